"""The operators' dashboard: the call log, call details, reports, audit integrity and what-if."""
