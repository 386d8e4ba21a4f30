"""Substance guides written by admins, with visitor comments held for moderation."""
