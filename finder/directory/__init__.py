"""The public directory: facilities, the service taxonomy, search and facility pages."""
