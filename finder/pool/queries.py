"""Reading the pool for the staff pages: pools, advertisers, and credentials about to lapse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from finder.calls.models import Advertiser, AdvertiserPool, NumberKind, TrackingNumber
from finder.pool.operations import local_today

#: How far ahead the warning list looks.
WARNING_DAYS = 30

#: The dated things an advertiser needs to stay in the pool, as (attribute, what it is).
DEADLINES = (
    ("license_expires_on", "State license"),
    ("accreditation_expires_on", "Accreditation"),
    ("certification_expires_on", "Advertising certification"),
    ("contract_ends_on", "Contract"),
)


@dataclass(frozen=True)
class Deadline:
    what: str
    field: str
    on: object  # a date
    days_left: int  #: negative once it has passed


@dataclass(frozen=True)
class Expiring:
    advertiser: Advertiser
    deadlines: tuple[Deadline, ...]


def expiring(session: Session, now: datetime, days: int = WARNING_DAYS) -> list[Expiring]:
    """Advertisers with a credential or contract ending within ``days`` of their local today.

    Deadlines already passed are listed for active advertisers (routing skips them now, which
    the admin should know); for inactive ones they are old news and left out.
    """
    # Widened by a day for the zones behind UTC; the exact test is per advertiser below.
    horizon = now.date() + timedelta(days=days + 1)
    candidates = session.execute(
        sa.select(Advertiser)
        .options(selectinload(Advertiser.pool))
        .where(sa.or_(*(getattr(Advertiser, attr) <= horizon for attr, _ in DEADLINES)))
        .order_by(Advertiser.name, Advertiser.id)
    ).scalars()
    found = []
    for advertiser in candidates:
        today = local_today(advertiser.timezone, now)
        deadlines = []
        for attr, what in DEADLINES:
            on = getattr(advertiser, attr)
            if on is None:
                continue
            left = (on - today).days
            if left > days or (left < 0 and not advertiser.active):
                continue
            deadlines.append(Deadline(what, attr, on, left))
        if deadlines:
            found.append(Expiring(advertiser, tuple(sorted(deadlines, key=lambda d: d.on))))
    found.sort(key=lambda e: (e.deadlines[0].on, e.advertiser.name))
    return found


def pools(session: Session) -> list[AdvertiserPool]:
    return list(session.execute(
        sa.select(AdvertiserPool)
        .options(selectinload(AdvertiserPool.advertisers), selectinload(AdvertiserPool.numbers))
        .order_by(AdvertiserPool.name)
    ).scalars())


def advertisers(session: Session) -> list[Advertiser]:
    return list(session.execute(
        sa.select(Advertiser).options(selectinload(Advertiser.pool))
        .order_by(Advertiser.name, Advertiser.id)
    ).scalars())


def helpline_numbers(session: Session, pool: AdvertiserPool) -> list[TrackingNumber]:
    return list(session.execute(
        sa.select(TrackingNumber)
        .where(TrackingNumber.kind == NumberKind.HELPLINE, TrackingNumber.pool_id == pool.id)
        .order_by(TrackingNumber.retired_at.is_not(None), TrackingNumber.number)
    ).scalars())
