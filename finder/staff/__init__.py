"""The staff area's shell: its home page and navigation (features add their own blueprints)."""
