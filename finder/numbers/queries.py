"""Reading tracking numbers for the staff pages: filtered, paginated, with what each one rings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from finder.calls.models import AdvertiserPool, NumberKind, TrackingNumber
from finder.calls.numbers import facility_line, pool_advertisers
from finder.changes.models import ChangeEntry
from finder.numbers.operations import ENTITY
from finder.paging import Page, clamped

KINDS = ("facility", "helpline")
STATUSES = ("active", "retired")


@dataclass
class Rings:
    """What a call to a number reaches now, in words and with the advertisers of its pool."""

    summary: str
    phone: str | None = None
    advertisers: list[dict] | None = None



def rings(session: Session, tracking: TrackingNumber, now: datetime,
          pools: dict[int, list[dict]] | None = None) -> Rings:
    """What ``tracking`` rings at ``now`` (the rules of ``finder.calls.routing``)."""
    if tracking.retired_at is not None:
        return Rings("Nothing: retired numbers do not route.")
    if tracking.kind == NumberKind.FACILITY:
        phone = facility_line(tracking.facility)
        if not phone:
            return Rings("Nowhere: the facility has no phone on file (callers are offered the "
                         "SAMHSA helpline).")
        return Rings(f"{tracking.facility.name1}'s own phone", phone=phone)
    pools = {} if pools is None else pools
    if tracking.pool_id not in pools:
        pools[tracking.pool_id] = pool_advertisers(session, tracking.pool, now)
    advertisers = pools[tracking.pool_id]
    ready = [a for a in advertisers if a["eligible_now"]]
    summary = (f"Pool {tracking.pool.name}: {len(ready)} of {len(advertisers)} advertisers can "
               "take a call now" + ("" if ready else " (otherwise the SAMHSA helpline answers)"))
    return Rings(summary, advertisers=advertisers)


def number_page(session: Session, now: datetime, *, kind: str | None = None,
                status: str | None = None, page: int = 1, per_page: int = 50) -> Page:
    query = sa.select(TrackingNumber)
    if kind in KINDS:
        query = query.where(TrackingNumber.kind == NumberKind(kind))
    if status == "active":
        query = query.where(TrackingNumber.retired_at.is_(None))
    elif status == "retired":
        query = query.where(TrackingNumber.retired_at.is_not(None))
    total = session.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    page = clamped(page, total, per_page)
    numbers = session.execute(
        query.options(selectinload(TrackingNumber.facility), selectinload(TrackingNumber.pool))
        .order_by(TrackingNumber.retired_at.is_not(None), TrackingNumber.kind,
                  TrackingNumber.number)
        .offset((page - 1) * per_page).limit(per_page)
    ).scalars().all()
    pools: dict[int, list[dict]] = {}
    return Page([(n, rings(session, n, now, pools)) for n in numbers], total, page,
                      per_page)


def all_pools(session: Session) -> list[AdvertiserPool]:
    return list(session.execute(sa.select(AdvertiserPool).order_by(AdvertiserPool.name))
                .scalars())


def history(session: Session, tracking: TrackingNumber, limit: int = 20) -> list[ChangeEntry]:
    """The latest change entries of one number."""
    return list(session.execute(
        sa.select(ChangeEntry)
        .where(ChangeEntry.entity == ENTITY, ChangeEntry.entity_id == str(tracking.id))
        .order_by(ChangeEntry.created_at.desc(), ChangeEntry.id.desc())
        .limit(limit)
    ).scalars())
