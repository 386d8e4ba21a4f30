"""Reading a moderation queue's filter (one status) and page number from the query string."""

from enum import Enum

from flask import abort


def queue_filter(args, status_enum: type[Enum]) -> tuple[Enum | None, int]:
    """``?status=...&page=N`` → (status or None, page >= 1); an unknown status is a 400."""
    status = None
    status_text = args.get("status", "")
    if status_text:
        try:
            status = status_enum(status_text)
        except ValueError:
            names = ", ".join(member.value for member in status_enum)
            abort(400, f"Unknown status. Choose one of: {names}.")
    page_text = args.get("page", "1")
    page_number = (int(page_text) if page_text.isascii() and page_text.isdigit()
                   and len(page_text) < 7 else 1)
    return status, max(1, page_number)
