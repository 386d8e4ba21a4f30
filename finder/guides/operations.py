"""Guides and their comments: admins' changes (each with a change entry) and visitors' comments.

A moderation decision claims the comment with a conditional UPDATE, so two admins deciding the
same comment at once cannot both act on it. A rejected comment stays rejected: it is never shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from finder.changes.record import changed_fields, record, snapshot
from finder.db import now_utc
from finder.directory.models import Service
from finder.guides.models import CommentStatus, Guide, GuideComment, GuideStatus
from finder.paging import Page
from finder.staff.queues import queue_page
from finder.typed_text import has_control_characters

PER_PAGE = 50
#: The statuses a comment may be moved from, per decision. Approving a rejected comment is not
#: possible: "rejected" means never shown.
DECISIONS = {
    CommentStatus.APPROVED: frozenset({CommentStatus.PENDING}),
    CommentStatus.REJECTED: frozenset({CommentStatus.PENDING, CommentStatus.APPROVED}),
}


class GuideError(ValueError):
    """A change that cannot be made; ``field`` names the form field to blame (or None)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class GuideInput:
    slug: str
    title: str
    summary: str
    body: str
    status: GuideStatus
    last_reviewed_on: date | None
    related_services: tuple[str, ...]


def unknown_service_codes(session: Session, codes) -> list[str]:
    codes = list(codes)
    if not codes:
        return []
    known = set(session.execute(select(Service.code).where(Service.code.in_(codes))).scalars())
    return [code for code in codes if code not in known]


def _check(session: Session, data: GuideInput, guide_id: int | None) -> None:
    taken = session.execute(
        select(Guide.id).where(Guide.slug == data.slug, Guide.id != (guide_id or -1))
    ).scalar()
    if taken is not None:
        raise GuideError("Another guide already uses this address.", "slug")
    unknown = unknown_service_codes(session, data.related_services)
    if unknown:
        raise GuideError(f"Unknown service code{'s' if len(unknown) > 1 else ''}: "
                         f"{', '.join(unknown)}. Use codes from the service list.",
                         "related_services")


def _apply(guide: Guide, data: GuideInput) -> None:
    guide.slug = data.slug
    guide.title = data.title
    guide.summary = data.summary
    guide.body = data.body
    guide.status = data.status
    guide.last_reviewed_on = data.last_reviewed_on
    guide.related_services = list(data.related_services)


def _flush(session: Session) -> None:
    """Flush; the slug's unique constraint refusing it becomes a GuideError (the caller must
    then roll back, as after any failed flush)."""
    try:
        session.flush()
    except IntegrityError:
        # Another admin took the slug between the check and the write.
        raise GuideError("Another guide already uses this address.", "slug") from None


def create_guide(session: Session, data: GuideInput, *, actor) -> Guide:
    _check(session, data, None)
    guide = Guide()
    _apply(guide, data)
    session.add(guide)
    _flush(session)
    record(session, actor=actor, entity="guide", entity_id=guide.id, action="create",
           summary=f"Created guide {guide.title!r} ({guide.slug}), {guide.status.value}",
           after=snapshot(guide))
    return guide


def update_guide(session: Session, guide: Guide, data: GuideInput, *, actor) -> dict:
    """Apply ``data``; returns {field: [before, after]} (empty when nothing changed)."""
    _check(session, data, guide.id)
    before = snapshot(guide)
    _apply(guide, data)
    _flush(session)
    after = snapshot(guide)
    changes = {k: v for k, v in changed_fields(before, after).items() if k != "updated_at"}
    if changes:
        record(session, actor=actor, entity="guide", entity_id=guide.id, action="update",
               summary=f"Edited guide {guide.title!r} ({guide.slug}): " + ", ".join(changes),
               before=before, after=after)
    return changes


def published_guides(session: Session) -> list[Guide]:
    return list(session.execute(
        select(Guide).where(Guide.status == GuideStatus.PUBLISHED).order_by(Guide.title)
    ).scalars())


def all_guides(session: Session) -> list[Guide]:
    return list(session.execute(select(Guide).order_by(Guide.title)).scalars())


def published_guide(session: Session, slug: str) -> Guide | None:
    if has_control_characters(slug):
        return None  # no slug holds one (and PostgreSQL refuses NUL in a query)
    return session.execute(
        select(Guide).where(Guide.slug == slug, Guide.status == GuideStatus.PUBLISHED)
    ).scalar_one_or_none()


def approved_comments(session: Session, guide: Guide) -> list[GuideComment]:
    return list(session.execute(
        select(GuideComment)
        .where(GuideComment.guide_id == guide.id, GuideComment.status == CommentStatus.APPROVED)
        .order_by(GuideComment.created_at, GuideComment.id)
    ).scalars())


def submit_comment(session: Session, guide: Guide, *, display_name: str | None,
                   body: str) -> GuideComment:
    """Store a visitor's comment (validated by the form), pending until an admin decides."""
    if guide.status != GuideStatus.PUBLISHED:
        raise GuideError("Comments are open only on published guides.")
    comment = GuideComment(guide_id=guide.id, display_name=display_name or None, body=body,
                           status=CommentStatus.PENDING)
    session.add(comment)
    session.flush()
    return comment


def decide_comment(session: Session, comment: GuideComment, status: CommentStatus, *,
                   actor) -> None:
    """Approve or reject ``comment``, with a change entry; GuideError when it cannot move."""
    allowed_from = DECISIONS.get(status)
    if allowed_from is None:
        raise GuideError(f"A comment cannot be set to {status.value}.")
    before = comment.status
    result = session.execute(
        update(GuideComment)
        .where(GuideComment.id == comment.id, GuideComment.status.in_(allowed_from))
        .values(status=status, decided_at=now_utc(), decided_by_id=getattr(actor, "id", None))
        .execution_options(synchronize_session=False)
    )
    session.refresh(comment)
    if result.rowcount != 1:
        raise GuideError(f"Comment #{comment.id} is {comment.status.value}: it cannot be "
                         f"{'approved' if status == CommentStatus.APPROVED else 'rejected'}.")
    verb = "Approved" if status == CommentStatus.APPROVED else "Rejected"
    record(session, actor=actor, entity="guide_comment", entity_id=comment.id,
           action="approve" if status == CommentStatus.APPROVED else "reject",
           summary=f"{verb} comment #{comment.id} on guide {comment.guide.title!r}",
           before={"status": before.value},
           after={"status": comment.status.value, "decided_at": comment.decided_at})


def find_comments(session: Session, *, status: CommentStatus | None = None, page: int = 1,
                  per_page: int = PER_PAGE) -> Page:
    """Pending comments first, oldest first (they have waited longest), then decided ones,
    newest decision first."""
    return queue_page(session, GuideComment, waiting=CommentStatus.PENDING, status=status,
                      page=page, per_page=per_page,
                      options=(selectinload(GuideComment.guide),))


def pending_count(session: Session) -> int:
    return session.execute(
        select(func.count()).select_from(GuideComment)
        .where(GuideComment.status == CommentStatus.PENDING)
    ).scalar_one()
