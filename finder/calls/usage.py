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
#: Advertisers per usage query (one UNION ALL part each for their recent legs).
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


def usage_for(session: Session, advertisers, now: datetime,
              window: int = 20) -> dict[int, AdvertiserUsage]:
    """Each advertiser's usage (``Advertiser`` rows or snapshots) in one query: its day and
    month counters, its live legs and the statuses of its last ``window`` judged legs."""
    if not advertisers:
        return {}
    days = {advertiser.id: local_day(advertiser, now) for advertiser in advertisers}
    ids = list(days)
    starts = sorted(set(days.values()) | {day.replace(day=1) for day in days.values()})
    counts, live, recent = {}, {}, {advertiser_id: [] for advertiser_id in ids}
    rows = []
    # SQLite allows 500 terms in a compound SELECT: a very large pool takes several queries.
    for first in range(0, len(ids), RECENT_QUERY_PARTS):
        chunk = ids[first:first + RECENT_QUERY_PARTS]
        params = {f"advertiser_{n}": advertiser_id for n, advertiser_id in enumerate(chunk)}
        if first == 0:
            params.update(ids=ids, starts=starts, now=now)
        rows += session.execute(_usage_query(len(chunk), window, totals=first == 0), params)
    judged = []
    for part, advertiser_id, period, starts_on, number, status, started_at, leg_id in rows:
        if part == "counter":
            counts[(advertiser_id, period, starts_on)] = number
        elif part == "live":
            live[advertiser_id] = number
        else:
            judged.append((started_at, leg_id, advertiser_id, status))
    # A union keeps no order: sort by the same keys as each part, newest first.
    for _started, _id, advertiser_id, status in sorted(judged, reverse=True):
        recent[advertiser_id].append(status)
    return {
        advertiser_id: AdvertiserUsage(
            calls_today=counts.get((advertiser_id, "day", day)) or 0,
            calls_this_month=counts.get((advertiser_id, "month", day.replace(day=1))) or 0,
            live_legs=live.get(advertiser_id, 0),
            recent_answers=tuple(status in ANSWERED for status in recent[advertiser_id]),
        )
        for advertiser_id, day in days.items()
    }


_COUNTERS = AdvertiserUsageCounter.__table__
_LEGS = CallAttempt.__table__


def _nothing(column: sa.Column) -> sa.ColumnElement:
    return sa.cast(sa.null(), column.type)


@functools.cache
def _usage_query(advertisers: int, window: int, *, totals: bool) -> sa.CompoundSelect:
    """One UNION ALL, every row labelled with its part: the counters of the advertisers' days
    and months, their live legs, and a LIMITed query per advertiser for its recent legs, so
    each part can stop early on an index. With ``totals`` False, only the recent legs.

    Built once per pool size (building it costs more than running it); the ids are parameters.
    """
    counter, leg = _COUNTERS.c, _LEGS.c
    part = sa.String(8)
    parts = []
    if totals:
        parts.append(
            sa.select(sa.literal("counter", part), counter.advertiser_id, counter.period,
                      counter.starts_on, counter.calls, _nothing(leg.status),
                      _nothing(leg.started_at), _nothing(leg.id))
            .where(counter.advertiser_id.in_(sa.bindparam("ids", expanding=True)),
                   counter.starts_on.in_(sa.bindparam("starts", expanding=True)))
        )
        parts.append(
            sa.select(sa.literal("live", part), leg.advertiser_id, _nothing(counter.period),
                      _nothing(counter.starts_on), sa.func.count(), _nothing(leg.status),
                      _nothing(leg.started_at), _nothing(leg.id))
            .where(leg.advertiser_id.in_(sa.bindparam("ids", expanding=True)),
                   leg.status.in_(LIVE),
                   leg.expires_at > sa.bindparam("now", type_=leg.expires_at.type))
            .group_by(leg.advertiser_id)
        )
    for n in range(advertisers):
        latest = (
            sa.select(leg.advertiser_id, leg.status, leg.started_at, leg.id)
            .where(leg.advertiser_id == sa.bindparam(f"advertiser_{n}"), leg.status.in_(JUDGED))
            .order_by(leg.started_at.desc(), leg.id.desc())
            .limit(window)
            .subquery()
        )
        parts.append(sa.select(sa.literal("recent", part), latest.c.advertiser_id,
                               _nothing(counter.period), _nothing(counter.starts_on),
                               _nothing(counter.calls), latest.c.status, latest.c.started_at,
                               latest.c.id))
    return sa.union_all(*parts)


#: No cap: a bound no counter reaches.
_UNCAPPED = 2**31 - 1


@functools.cache
def _take_statement(dialect_name: str):
    """Count one call in the advertiser's day and month counters, creating them at 1, each
    unless its count is at its cap.

    One upsert of both rows (row locks on PostgreSQL until the commit), returning the period of
    each row it counted: a missing period is a cap that stopped it. Built once per dialect; a
    Core statement, so the ORM adds nothing.
    """
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    counters = _COUNTERS.c
    advertiser = sa.bindparam("advertiser_id", type_=counters.advertiser_id.type)
    insert = dialect.insert(_COUNTERS).values([
        {"advertiser_id": advertiser, "period": "day", "calls": 1,
         "starts_on": sa.bindparam("day", type_=counters.starts_on.type)},
        {"advertiser_id": advertiser, "period": "month", "calls": 1,
         "starts_on": sa.bindparam("month", type_=counters.starts_on.type)},
    ])
    cap = sa.case((insert.excluded.period == "day", sa.bindparam("day_cap", type_=sa.Integer)),
                  else_=sa.bindparam("month_cap", type_=sa.Integer))
    return insert.on_conflict_do_update(
        index_elements=[counters.advertiser_id, counters.period, counters.starts_on],
        set_={"calls": counters.calls + 1},
        where=counters.calls < cap,
    ).returning(counters.period)


_GIVE_BACK = (
    sa.update(_COUNTERS)
    .where(_COUNTERS.c.advertiser_id == sa.bindparam("counter_advertiser"),
           _COUNTERS.c.period == sa.bindparam("counter_period"),
           _COUNTERS.c.starts_on == sa.bindparam("counter_starts_on"),
           _COUNTERS.c.calls > 0)
    .values(calls=_COUNTERS.c.calls - 1)
)


def _give_back(session: Session, advertiser_id: int, period: str, starts_on: date) -> None:
    session.execute(_GIVE_BACK, {"counter_advertiser": advertiser_id, "counter_period": period,
                                 "counter_starts_on": starts_on})


def reserve(session: Session, advertiser, now: datetime, *,
            live: int | None = None) -> Reason | None:
    """Count one call against the advertiser's caps (an ``Advertiser`` row or a snapshot), or
    say which cap stops it.

    Under the pool's turn every reservation in the pool is committed or rolled back before the
    next one starts, so live legs counted in this turn include every other reservation; ``live``
    is that count when the caller already read it in this turn (``usage_for``).
    """
    locks.pool_turn(session, advertiser.pool_id)
    cap = advertiser.concurrent_cap
    if cap is not None:
        if live is None:
            live = live_legs(session, advertiser.id, now)
        if live >= cap:
            return Reason.CONCURRENT_CAP_REACHED
    if advertiser.daily_cap is not None and advertiser.daily_cap <= 0:
        return Reason.DAILY_CAP_REACHED
    if advertiser.monthly_cap is not None and advertiser.monthly_cap <= 0:
        return Reason.MONTHLY_CAP_REACHED
    day = local_day(advertiser, now)
    month = day.replace(day=1)
    counted = set(session.execute(_take_statement(session.get_bind().dialect.name), {
        "advertiser_id": advertiser.id, "day": day, "month": month,
        "day_cap": _UNCAPPED if advertiser.daily_cap is None else advertiser.daily_cap,
        "month_cap": _UNCAPPED if advertiser.monthly_cap is None else advertiser.monthly_cap,
    }).scalars())
    if "day" not in counted:
        if "month" in counted:
            _give_back(session, advertiser.id, "month", month)
        return Reason.DAILY_CAP_REACHED
    if "month" not in counted:
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
