"""The operators' report figures for a period: per advertiser, per pool tier, per facility number.

Plain functions of a session and a ``Period`` (whole UTC days; a call belongs to the day it
started). Definitions, as the report page states them:

- routed: legs that rang the advertiser (one call rings an advertiser at most once);
- answered: legs that were bridged; answer rate = answered / routed;
- time to answer: from routing to the leg's "answered" status callback, for answered legs whose
  callback was received (others have no recorded time, and the page says so);
- abandoned: the call's last leg, not answered, ended because the caller hung up
  (outcome ``caller_hung_up``, or the leg was canceled when the caller's call ended);
- billable: answered legs lasting at least ``billable_seconds`` (Twilio's DialCallDuration);
- cap utilisation: calls counted against the daily cap on the period's days (the advertiser's
  local days; failed legs give their count back) / (daily cap x days);
- observed share: the advertiser's routed legs / all routed legs of its pool and tier; weight
  share: its weight / the weights of that tier's advertisers (active now, or routed to in the
  period), as configured now.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased, selectinload

from finder.calls.models import (
    Advertiser,
    AdvertiserUsageCounter,
    Call,
    CallAttempt,
    TrackingNumber,
)
from finder.calls.usage import ANSWERED
from finder.operations.period import Period
from finder.operations.queries import answer_times, facility_names

HUNG_UP = "caller_hung_up"


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class AdvertiserFigures:
    id: int
    name: str
    pool_id: int
    pool_name: str
    tier: int
    weight: int
    active: bool
    daily_cap: int | None
    routed: int = 0
    answered: int = 0
    abandoned: int = 0
    billable: int = 0
    answer_times: list[float] = field(default_factory=list)
    counted: int = 0  #: calls counted against the daily cap on the period's days
    busiest_day: int = 0
    days_at_cap: int = 0
    capacity: int | None = None  #: daily cap x days in the period
    observed_share: float | None = None
    weight_share: float | None = None

    @property
    def answer_rate(self) -> float | None:
        return _rate(self.answered, self.routed)

    @property
    def median_answer_seconds(self) -> float | None:
        return _median(self.answer_times)

    @property
    def cap_utilisation(self) -> float | None:
        return _rate(self.counted, self.capacity) if self.capacity is not None else None


@dataclass
class ShareGroup:
    pool_name: str
    tier: int
    members: list[AdvertiserFigures]

    @property
    def routed(self) -> int:
        return sum(member.routed for member in self.members)


@dataclass
class FacilityNumberFigures:
    number_id: int | None
    number: str
    facility_name: str
    calls: int = 0
    answered: int = 0
    answer_times: list[float] = field(default_factory=list)

    @property
    def answer_rate(self) -> float | None:
        return _rate(self.answered, self.calls)

    @property
    def median_answer_seconds(self) -> float | None:
        return _median(self.answer_times)


@dataclass
class Totals:
    calls: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)  #: facility, helpline, unknown
    answered_calls: int = 0  #: calls with at least one answered leg
    abandoned: int = 0
    samhsa_legs: int = 0
    answered_legs: int = 0
    timed_legs: int = 0  #: answered legs with a recorded time to answer


@dataclass
class Report:
    period: Period
    billable_seconds: int
    totals: Totals
    advertisers: list[AdvertiserFigures]
    shares: list[ShareGroup]
    facility_numbers: list[FacilityNumberFigures]


def _count(condition) -> sa.ColumnElement:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _in(period: Period) -> tuple:
    return Call.started_at >= period.start, Call.started_at < period.end


def _abandoned() -> sa.ColumnElement:
    later = aliased(CallAttempt)
    is_last = ~sa.exists().where(later.call_id == CallAttempt.call_id,
                                 later.attempt_number > CallAttempt.attempt_number)
    return sa.and_(~CallAttempt.status.in_(ANSWERED), is_last,
                   sa.or_(Call.outcome == HUNG_UP, CallAttempt.dial_call_status == "canceled"))


def _advertisers(session: Session) -> dict[int, AdvertiserFigures]:
    advertisers = session.execute(
        sa.select(Advertiser).options(selectinload(Advertiser.pool))
    ).scalars().all()
    ordered = sorted(advertisers, key=lambda a: (a.pool.name, a.tier, a.name, a.id))
    return {a.id: AdvertiserFigures(a.id, a.name, a.pool_id, a.pool.name, a.tier, a.weight,
                                    a.active, a.daily_cap) for a in ordered}


def _legs(session: Session, period: Period, billable_seconds: int,
          figures: dict[int, AdvertiserFigures], totals: Totals) -> None:
    answered = CallAttempt.status.in_(ANSWERED)
    rows = session.execute(
        sa.select(CallAttempt.destination_kind, CallAttempt.advertiser_id, sa.func.count(),
                  _count(answered), _count(_abandoned()),
                  _count(sa.and_(answered, CallAttempt.duration_seconds >= billable_seconds)))
        .join(Call, Call.id == CallAttempt.call_id)
        .where(*_in(period))
        .group_by(CallAttempt.destination_kind, CallAttempt.advertiser_id)
    ).all()
    for kind, advertiser_id, legs, answered_legs, abandoned, billable in rows:
        totals.abandoned += abandoned
        totals.answered_legs += answered_legs
        if kind == "samhsa":
            totals.samhsa_legs += legs
        if advertiser_id in figures:
            entry = figures[advertiser_id]
            entry.routed, entry.answered = legs, answered_legs
            entry.abandoned, entry.billable = abandoned, billable


def _calls(session: Session, period: Period, totals: Totals) -> None:
    any_answered = sa.exists().where(CallAttempt.call_id == Call.id,
                                     CallAttempt.status.in_(ANSWERED))
    for kind, calls, answered in session.execute(
        sa.select(Call.number_kind, sa.func.count(), _count(any_answered))
        .where(*_in(period)).group_by(Call.number_kind)
    ).all():
        totals.by_kind[kind or "unknown"] = calls
        totals.calls += calls
        totals.answered_calls += answered


def _caps(session: Session, period: Period, figures: dict[int, AdvertiserFigures]) -> None:
    counter = AdvertiserUsageCounter
    for entry in figures.values():
        if entry.daily_cap is not None:
            entry.capacity = entry.daily_cap * period.days
    for advertiser_id, calls in session.execute(
        sa.select(counter.advertiser_id, counter.calls).where(
            counter.period == "day", counter.starts_on >= period.since,
            counter.starts_on <= period.until)
    ).all():
        entry = figures.get(advertiser_id)
        if entry is None:
            continue
        entry.counted += calls
        entry.busiest_day = max(entry.busiest_day, calls)
        if entry.daily_cap is not None and calls >= entry.daily_cap:
            entry.days_at_cap += 1


def _shares(figures: dict[int, AdvertiserFigures]) -> list[ShareGroup]:
    groups: dict[tuple[int, int], ShareGroup] = {}
    for entry in figures.values():
        if not (entry.active or entry.routed):
            continue
        key = (entry.pool_id, entry.tier)
        groups.setdefault(key, ShareGroup(entry.pool_name, entry.tier, [])).members.append(entry)
    for group in groups.values():
        weights = sum(max(member.weight, 0) for member in group.members)
        for member in group.members:
            member.observed_share = _rate(member.routed, group.routed)
            member.weight_share = _rate(max(member.weight, 0), weights)
    return list(groups.values())


def _facility_numbers(session: Session, period: Period) -> dict[int | None, FacilityNumberFigures]:
    answered_here = sa.exists().where(CallAttempt.call_id == Call.id,
                                      CallAttempt.destination_kind == "facility",
                                      CallAttempt.status.in_(ANSWERED))
    rows = session.execute(
        sa.select(Call.tracking_number_id, sa.func.count(), _count(answered_here))
        .where(*_in(period), Call.number_kind == "facility")
        .group_by(Call.tracking_number_id)
    ).all()
    ids = [number_id for number_id, _, _ in rows if number_id is not None]
    numbers = {n.id: n for n in session.execute(
        sa.select(TrackingNumber).where(TrackingNumber.id.in_(ids))).scalars()} if ids else {}
    names = facility_names(session, (n.facility_id for n in numbers.values()))
    found = {}
    for number_id, calls, answered in rows:
        tracking = numbers.get(number_id)
        found[number_id] = FacilityNumberFigures(
            number_id, tracking.number if tracking else "(number removed)",
            names.get(tracking.facility_id, "") if tracking else "", calls, answered)
    return found


def _answer_times(session: Session, period: Period, figures: dict[int, AdvertiserFigures],
                  numbers: dict[int | None, FacilityNumberFigures], totals: Totals) -> None:
    times = answer_times(session, *_in(period))
    totals.timed_legs = len(times)
    if not times:
        return
    for attempt_id, kind, advertiser_id, number_id in session.execute(
        sa.select(CallAttempt.id, CallAttempt.destination_kind, CallAttempt.advertiser_id,
                  Call.tracking_number_id)
        .join(Call, Call.id == CallAttempt.call_id)
        .where(*_in(period), CallAttempt.status.in_(ANSWERED))
    ).all():
        seconds = times.get(attempt_id)
        if seconds is None:
            continue
        if advertiser_id in figures:
            figures[advertiser_id].answer_times.append(seconds)
        if kind == "facility" and number_id in numbers:
            numbers[number_id].answer_times.append(seconds)


def build_report(session: Session, period: Period, billable_seconds: int) -> Report:
    """Every figure of the report page for ``period``."""
    figures = _advertisers(session)
    totals = Totals()
    _calls(session, period, totals)
    _legs(session, period, billable_seconds, figures, totals)
    _caps(session, period, figures)
    numbers = _facility_numbers(session, period)
    _answer_times(session, period, figures, numbers, totals)
    shares = _shares(figures)
    by_calls = sorted(numbers.values(), key=lambda n: (-n.calls, n.number))
    return Report(period, billable_seconds, totals, list(figures.values()), shares, by_calls)

