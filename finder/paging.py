"""Paged lists: reading the page number typed into a URL or a filter form, and one page."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

#: More digits than any page count has: ``?page=`` with more is treated as the first page.
MAX_PAGE_DIGITS = 6


def page_number(text: str | None) -> int:
    """``"3"`` → 3; anything that is not ASCII digits (``"²"``, ``"-1"``, ``""``, a 5,000-digit
    number) → 1. A page past the last is the caller's to clamp."""
    text = (text or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= MAX_PAGE_DIGITS:
        return max(1, int(text))
    return 1


def page_count(total: int, per_page: int) -> int:
    """Pages a list of ``total`` rows takes: at least one, even empty."""
    return max(1, math.ceil(total / per_page))


def clamped(page: int, total: int, per_page: int) -> int:
    """``page``, or the last page when it is past the end."""
    return max(1, min(page, page_count(total, per_page)))


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a staff list: its rows, how many there are in all, which page it is."""

    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return page_count(self.total, self.per_page)
