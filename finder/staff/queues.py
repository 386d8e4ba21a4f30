"""Moderation queues (problem reports, guide comments): the filter and page a request asks for,
and one page of the queue, waiting items first."""

from __future__ import annotations

from enum import Enum

from flask import abort
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from finder.paging import Page, clamped, page_number


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
    return status, page_number(args.get("page"))



def queue_page(session: Session, model, *, waiting: Enum, status: Enum | None, page: int,
               per_page: int, options: tuple = ()) -> Page:
    """One page of ``model`` rows (with ``status``, ``decided_at`` and ``id`` columns), only
    ``status`` if given: the ``waiting`` ones first, oldest first (they have waited longest), then
    decided ones, newest decision first. A page past the last shows the last."""
    conditions = [model.status == status] if status else []
    total = session.execute(
        select(func.count()).select_from(model).where(*conditions)
    ).scalar_one()
    page = clamped(page, total, per_page)
    waiting_first = case((model.status == waiting, 0), else_=1)
    waiting_age = case((model.status == waiting, model.id), else_=None)
    items = session.execute(
        select(model).where(*conditions).options(*options)
        .order_by(waiting_first, waiting_age, model.decided_at.desc(), model.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).scalars().all()
    return Page(list(items), total, page, per_page)
