"""Reading a page number a visitor or staff member typed into a URL or a filter form."""

from __future__ import annotations

#: More digits than any page count has: ``?page=`` with more is treated as the first page.
MAX_PAGE_DIGITS = 6


def page_number(text: str | None) -> int:
    """``"3"`` → 3; anything that is not ASCII digits (``"²"``, ``"-1"``, ``""``, a 5,000-digit
    number) → 1. A page past the last is the caller's to clamp."""
    text = (text or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= MAX_PAGE_DIGITS:
        return max(1, int(text))
    return 1
