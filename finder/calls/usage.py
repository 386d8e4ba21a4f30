"""What each advertiser has taken: counters per local day and month, live legs, recent answers.

Caps are enforced by ``reserve``, under the pool's turn (``locks.pool_turn`` on PostgreSQL, the
single writer on SQLite): a count of live legs, then a conditional upsert of the day and of the
month counter. ``release`` gives the calls back when an attempt fails, under the same turn, so
steps changing one pool's counters never hold counter rows in opposite orders.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from finder.calls import locks
from finder.calls.eligibility import Reason
from finder.calls.models import Advertiser, AdvertiserUsageCounter, AttemptStatus, CallAttempt
from finder.calls.pool import AdvertiserUsage

LIVE = (AttemptStatus.RESERVED, AttemptStatus.BRIDGED)
ANSWERED = (AttemptStatus.BRIDGED, AttemptStatus.COMPLETED)
JUDGED = (AttemptStatus.BRIDGED, AttemptStatus.COMPLETED, AttemptStatus.FAILED)
#: Advertisers per recent-answers query (one UNION ALL part each).
RECENT_QUERY_PARTS = 100


def local_day(advertiser: Advertiser, now: datetime) -> date:
    return now.astimezone(ZoneInfo(advertiser.timezone)).date()


def live_legs(session: Session, advertiser_id: int, now: datetime) -> int:
    return session.execute(
        sa.select(sa.func.count()).select_from(CallAttempt).where(
            CallAttempt.advertiser_id == advertiser_id,
            CallAttempt.status.in_(LIVE),
            CallAttempt.expires_at > now,
        )
    ).scalar_one()


def usage_for(session: Session, advertisers: list[Advertiser], now: datetime,
              window: int = 20) -> dict[int, AdvertiserUsage]:
    """Each advertiser's usage in three queries, one per kind (not four per advertiser)."""
    if not advertisers:
        return {}
    days = {advertiser.id: local_day(advertiser, now) for advertiser in advertisers}
    ids = list(days)
    counter = AdvertiserUsageCounter
    starts = sorted(set(days.values()) | {day.replace(day=1) for day in days.values()})
    counts = {
        (advertiser_id, period, starts_on): calls
        for advertiser_id, period, starts_on, calls in session.execute(
            sa.select(counter.advertiser_id, counter.period, counter.starts_on, counter.calls)
            .where(counter.advertiser_id.in_(ids), counter.starts_on.in_(starts))
        )
    }
    live = dict(session.execute(
        sa.select(CallAttempt.advertiser_id, sa.func.count())
        .where(CallAttempt.advertiser_id.in_(ids), CallAttempt.status.in_(LIVE),
               CallAttempt.expires_at > now)
        .group_by(CallAttempt.advertiser_id)
    ).all())
    recent = _recent_statuses(session, ids, window)
    return {
        advertiser_id: AdvertiserUsage(
            calls_today=counts.get((advertiser_id, "day", day)) or 0,
            calls_this_month=counts.get((advertiser_id, "month", day.replace(day=1))) or 0,
            live_legs=live.get(advertiser_id, 0),
            recent_answers=tuple(status in ANSWERED for status in recent[advertiser_id]),
        )
        for advertiser_id, day in days.items()
    }


@functools.cache
def _recent_query(advertisers: int, window: int) -> sa.CompoundSelect:
    """One UNION ALL of a LIMITed query per advertiser, so each part can stop early on an index.

    Built once per pool size (building it costs more than running it); the ids are parameters.
    """
    parts = [
        sa.select(CallAttempt.advertiser_id, CallAttempt.status, CallAttempt.started_at,
                  CallAttempt.id)
        .where(CallAttempt.advertiser_id == sa.bindparam(f"advertiser_{n}"),
               CallAttempt.status.in_(JUDGED))
        .order_by(CallAttempt.started_at.desc(), CallAttempt.id.desc())
        .limit(window)
        .subquery()
        for n in range(advertisers)
    ]
    return sa.union_all(*(sa.select(part) for part in parts))


def _recent_statuses(session: Session, ids: list[int], window: int) -> dict[int, list]:
    """The statuses of each advertiser's last ``window`` judged legs, newest first."""
    rows = []
    # SQLite allows 500 terms in a compound SELECT: a very large pool takes several queries.
    for first in range(0, len(ids), RECENT_QUERY_PARTS):
        chunk = ids[first:first + RECENT_QUERY_PARTS]
        params = {f"advertiser_{n}": advertiser_id for n, advertiser_id in enumerate(chunk)}
        rows += session.execute(_recent_query(len(chunk), window), params).all()
    recent: dict[int, list] = {advertiser_id: [] for advertiser_id in ids}
    # A union keeps no order: sort by the same keys as each part, newest first.
    for advertiser_id, status, _started, _id in sorted(
            rows, key=lambda row: (row[2], row[3]), reverse=True):
        recent[advertiser_id].append(status)
    return recent


_COUNTERS = AdvertiserUsageCounter.__table__


@functools.cache
def _take_statement(dialect_name: str, capped: bool):
    """Count one call in a period's counter, creating it at 1, unless the count is at the cap.

    One upsert (a row lock on PostgreSQL until the commit): it returns the new count, or no row
    when the cap stops it. Built once per dialect; a Core statement, so the ORM adds nothing.
    """
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    counters = _COUNTERS.c
    return dialect.insert(_COUNTERS).values(
        advertiser_id=sa.bindparam("advertiser_id"), period=sa.bindparam("period"),
        starts_on=sa.bindparam("starts_on"), calls=1,
    ).on_conflict_do_update(
        index_elements=[counters.advertiser_id, counters.period, counters.starts_on],
        set_={"calls": counters.calls + 1},
        where=(counters.calls < sa.bindparam("cap")) if capped else None,
    ).returning(counters.calls)


_GIVE_BACK = (
    sa.update(_COUNTERS)
    .where(_COUNTERS.c.advertiser_id == sa.bindparam("counter_advertiser"),
           _COUNTERS.c.period == sa.bindparam("counter_period"),
           _COUNTERS.c.starts_on == sa.bindparam("counter_starts_on"),
           _COUNTERS.c.calls > 0)
    .values(calls=_COUNTERS.c.calls - 1)
)


def _take(session: Session, advertiser_id: int, period: str, starts_on: date,
          cap: int | None) -> bool:
    if cap is not None and cap <= 0:
        return False
    statement = _take_statement(session.get_bind().dialect.name, cap is not None)
    params = {"advertiser_id": advertiser_id, "period": period, "starts_on": starts_on}
    if cap is not None:
        params["cap"] = cap
    return session.execute(statement, params).first() is not None


def _give_back(session: Session, advertiser_id: int, period: str, starts_on: date) -> None:
    session.execute(_GIVE_BACK, {"counter_advertiser": advertiser_id, "counter_period": period,
                                 "counter_starts_on": starts_on})


def reserve(session: Session, advertiser: Advertiser, now: datetime) -> Reason | None:
    """Count one call against the advertiser's caps, or say which cap stops it.

    Under the pool's turn every reservation in the pool is committed or rolled back before the
    next one starts, so the live legs counted here include every other reservation.
    """
    locks.pool_turn(session, advertiser.pool_id)
    cap = advertiser.concurrent_cap
    if cap is not None and live_legs(session, advertiser.id, now) >= cap:
        return Reason.CONCURRENT_CAP_REACHED
    day = local_day(advertiser, now)
    month = day.replace(day=1)
    if not _take(session, advertiser.id, "day", day, advertiser.daily_cap):
        return Reason.DAILY_CAP_REACHED
    if not _take(session, advertiser.id, "month", month, advertiser.monthly_cap):
        _give_back(session, advertiser.id, "day", day)
        return Reason.MONTHLY_CAP_REACHED
    return None


def release(session: Session, attempt: CallAttempt) -> None:
    """Give back the calls an attempt counted (it failed, so it does not use up a cap)."""
    if attempt.advertiser_id is None or attempt.counted_on is None:
        return
    locks.pool_turn(session, attempt.advertiser.pool_id)
    _give_back(session, attempt.advertiser_id, "day", attempt.counted_on)
    _give_back(session, attempt.advertiser_id, "month", attempt.counted_on.replace(day=1))
    attempt.counted_on = None
