"""The change log: who changed what in the directory, the pool or the accounts, and how."""
