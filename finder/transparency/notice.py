"""What the "Where do calls go?" notice says, built from the live routing configuration.

Plain data, no Flask: the view passes in the settings (retention days, forward pool, ring time)
and a clock, so the page says what routing would do at that moment and nothing else. Who "answers
the helpline" is decided by the same credential check the router uses (``credential_reasons``):
an advertiser is named only while it is active, consents to be named, and holds a current
license, accreditation, certification and contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from finder.calls.eligibility import credential_reasons
from finder.calls.models import Advertiser, AdvertiserPool, NumberKind, TrackingNumber
from finder.calls.routing import SAMHSA_HELPLINE, pool_for
from finder.calls.snapshots import snapshot

CRISIS_LINE = "988"


@dataclass(frozen=True)
class Answerer:
    """An advertiser that may answer calls now (caps and hours aside), as the public sees it."""

    name: str
    city: str
    state: str
    license_number: str
    license_state: str | None
    license_expires_on: date
    accreditation_body: str | None
    accreditation_expires_on: date | None
    states_served: tuple[str, ...]


@dataclass(frozen=True)
class PoolNotice:
    name: str
    is_demo: bool
    #: The pool's active helpline numbers (E.164); empty for a pool that only takes forwards.
    numbers: tuple[str, ...]
    answerers: tuple[Answerer, ...]
    takes_forwarded_calls: bool
    max_attempts: int
    asks_for_zip: bool
    repeat_window_days: int
    min_answer_rate: float
    pricing_bases: tuple[str, ...]


@dataclass(frozen=True)
class Privacy:
    callback_days: int
    call_days: int


@dataclass(frozen=True)
class Notice:
    generated_at: datetime
    pools: tuple[PoolNotice, ...]
    #: The pool that takes facility calls forwarded after no answer (None: nobody, SAMHSA).
    forward_pool: PoolNotice | None
    privacy: Privacy
    ring_seconds: int
    facility_number_count: int
    samhsa_helpline: str = SAMHSA_HELPLINE
    crisis_line: str = CRISIS_LINE

    @property
    def pricing_bases(self) -> tuple[str, ...]:
        return tuple(sorted({basis for pool in self.pools for basis in pool.pricing_bases}))

    @property
    def helpline_numbers(self) -> tuple[str, ...]:
        return tuple(number for pool in self.pools for number in pool.numbers)


def _local_date(advertiser: Advertiser, now: datetime) -> date:
    """The advertiser's own calendar date, as the router judges its credentials."""
    try:
        return now.astimezone(ZoneInfo(advertiser.timezone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return now.astimezone(UTC).date()


def may_answer(advertiser: Advertiser, now: datetime) -> bool:
    """Active, consenting, with current credentials and contract at ``now``."""
    return not credential_reasons(snapshot(advertiser), _local_date(advertiser, now))


def _answerer(advertiser: Advertiser) -> Answerer:
    return Answerer(
        name=advertiser.name,
        city=advertiser.city,
        state=advertiser.state,
        license_number=advertiser.license_number or "",
        license_state=advertiser.license_state,
        license_expires_on=advertiser.license_expires_on,
        accreditation_body=advertiser.accreditation_body,
        accreditation_expires_on=advertiser.accreditation_expires_on,
        states_served=tuple(sorted(advertiser.states_served or ())),
    )


def _pool_notice(pool: AdvertiserPool, numbers: list[str], *, forward: bool,
                 now: datetime) -> PoolNotice:
    answering = [a for a in pool.advertisers if may_answer(a, now)]
    answering.sort(key=lambda a: (a.state, a.city, a.name))
    return PoolNotice(
        name=pool.name,
        is_demo=pool.is_demo,
        numbers=tuple(numbers),
        answerers=tuple(_answerer(a) for a in answering),
        takes_forwarded_calls=forward,
        max_attempts=pool.max_attempts,
        asks_for_zip=pool.ask_for_zip,
        repeat_window_days=pool.repeat_window_days,
        min_answer_rate=pool.min_answer_rate,
        pricing_bases=tuple(sorted({a.pricing_basis for a in answering if a.pricing_basis})),
    )


def _active_numbers(kind: NumberKind) -> sa.Select:
    return (
        sa.select(TrackingNumber)
        .where(TrackingNumber.kind == kind, TrackingNumber.retired_at.is_(None))
        .order_by(TrackingNumber.id)
    )


def public_helpline_numbers(session: Session) -> list[str]:
    """Every helpline number in service (E.164), oldest first: what the public pages show."""
    return list(session.execute(
        _active_numbers(NumberKind.HELPLINE).with_only_columns(TrackingNumber.number)
    ).scalars())


def forwarding_pool(session: Session, forward_pool_name: str | None) -> AdvertiserPool | None:
    """The pool routing forwards unanswered facility calls to (asked of ``routing.pool_for``
    itself, with a call that has no helpline number, so the two cannot disagree)."""
    config = pool_for(session, SimpleNamespace(tracking_number=None), forward_pool_name)
    return session.get(AdvertiserPool, config.id) if config is not None else None


def build_notice(session: Session, *, now: datetime, callback_days: int, call_days: int,
                 forward_pool_name: str | None, ring_seconds: int) -> Notice:
    """The notice as routing stands at ``now``."""
    helplines = session.execute(
        _active_numbers(NumberKind.HELPLINE)
        .options(selectinload(TrackingNumber.pool).selectinload(AdvertiserPool.advertisers))
    ).scalars().all()
    numbers_by_pool: dict[int, list[str]] = {}
    pools: dict[int, AdvertiserPool] = {}
    for number in helplines:
        numbers_by_pool.setdefault(number.pool_id, []).append(number.number)
        pools[number.pool_id] = number.pool
    forward = forwarding_pool(session, forward_pool_name)
    if forward is not None:
        pools.setdefault(forward.id, forward)
    notices = {
        pool_id: _pool_notice(pool, numbers_by_pool.get(pool_id, []),
                              forward=forward is not None and pool_id == forward.id, now=now)
        for pool_id, pool in sorted(pools.items())
    }
    facility_numbers = session.execute(
        sa.select(sa.func.count()).select_from(
            _active_numbers(NumberKind.FACILITY).subquery()
        )
    ).scalar_one()
    return Notice(
        generated_at=now,
        pools=tuple(notices.values()),
        forward_pool=notices.get(forward.id) if forward is not None else None,
        privacy=Privacy(callback_days=callback_days, call_days=call_days),
        ring_seconds=ring_seconds,
        facility_number_count=facility_numbers,
    )
