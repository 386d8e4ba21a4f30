"""Visitors' reports of problems with a listing, and the queue where admins decide them."""
