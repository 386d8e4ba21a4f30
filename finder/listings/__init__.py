"""Listings admin: finding, creating, editing, closing and verifying facility listings."""
