"""The load run's database checks catch what they are there for: a cap exceeded at some moment,
a step counted twice, a leg the caller never dialled, a counter out of step, a lost call.

The rows are written directly (not by the routing code) so each check is shown a database in
the exact state it must refuse, next to one it must accept.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest

from benchmarks import call_checks
from finder.calls.models import (
    AdvertiserUsageCounter,
    AttemptStatus,
    AuditEntry,
    Call,
    CallAttempt,
    CallStatus,
)
from finder.extensions import db
from tests.factories import make_advertiser, make_pool

NOON = datetime(2026, 11, 18, 18, 0, tzinfo=UTC)  # noon in Chicago
TODAY = date(2026, 11, 18)
_ids = itertools.count(1)


@dataclass
class Played:
    destinations: list[str]
    outcome: str | None = None
    problems: list[str] = field(default_factory=list)


def _leg(session, advertiser, sid: str, status=AttemptStatus.COMPLETED, counted=True):
    call = Call(call_sid=sid, to_number="+18885550102", number_kind="helpline",
                status=CallStatus.COMPLETED, outcome="connected_advertiser", started_at=NOON,
                ended_at=NOON)
    session.add(call)
    session.flush()
    attempt = CallAttempt(call=call, attempt_number=1, destination_kind="advertiser",
                          advertiser_id=advertiser.id, dialed_number=advertiser.phone,
                          status=status, counted_on=TODAY if counted else None,
                          started_at=NOON, expires_at=NOON)
    session.add(attempt)
    session.flush()
    return attempt


def _rows(session, *events) -> None:
    """Audit rows in this order: ("decision", attempt) or ("outcome", attempt, bridged)."""
    for kind, attempt, *bridged in events:
        payload = {"bridged": bridged[0]} if kind == "outcome" else {"chosen": attempt.id}
        entry_id = next(_ids)
        session.add(AuditEntry(id=entry_id, call_id=attempt.call_id,
                               attempt_number=attempt.attempt_number, kind=kind,
                               payload=json.dumps(payload), prev_hash="0" * 64,
                               row_hash=f"{entry_id:064x}", created_at=NOON))
    session.flush()


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session
        db.session.rollback()


def _advertiser(session, **caps):
    values = dict(concurrent_cap=None, daily_cap=None, monthly_cap=None)
    values.update(caps)
    return make_advertiser(session, make_pool(session), **values)


def test_replay_finds_two_live_legs_over_a_concurrent_cap_of_one(session):
    advertiser = _advertiser(session, concurrent_cap=1)
    first, second = (_leg(session, advertiser, f"CAoverlap{n}") for n in (1, 2))
    _rows(session, ("decision", first), ("decision", second), ("outcome", first, True),
          ("outcome", second, True))

    problems = call_checks.replay_caps(session, {advertiser.id: advertiser}, [first, second])

    assert len(problems) == 1 and "2 live legs, over its concurrent cap 1" in problems[0]


def test_replay_accepts_the_same_legs_one_after_the_other(session):
    advertiser = _advertiser(session, concurrent_cap=1)
    first, second = (_leg(session, advertiser, f"CAturns{n}") for n in (1, 2))
    _rows(session, ("decision", first), ("outcome", first, True), ("decision", second),
          ("outcome", second, True))

    assert call_checks.replay_caps(session, {advertiser.id: advertiser}, [first, second]) == []


def test_replay_counts_the_day_and_gives_back_legs_that_did_not_answer(session):
    advertiser = _advertiser(session, daily_cap=1)
    unanswered = _leg(session, advertiser, "CAday1", AttemptStatus.FAILED, counted=False)
    answered = _leg(session, advertiser, "CAday2")
    third = _leg(session, advertiser, "CAday3")
    _rows(session, ("decision", unanswered), ("outcome", unanswered, False),
          ("decision", answered), ("outcome", answered, True))
    legs = [unanswered, answered]
    assert call_checks.replay_caps(session, {advertiser.id: advertiser}, legs) == []

    _rows(session, ("decision", third), ("outcome", third, True))
    problems = call_checks.replay_caps(session, {advertiser.id: advertiser}, [*legs, third])

    assert len(problems) == 1 and f"2 calls counted for {TODAY}, over its daily cap 1" in \
        problems[0]


def test_counters_must_equal_the_legs_that_count(session):
    advertiser = _advertiser(session, daily_cap=5)
    legs = [_leg(session, advertiser, f"CAcount{n}") for n in (1, 2)]
    for period, starts_on in (("day", TODAY), ("month", TODAY.replace(day=1))):
        session.add(AdvertiserUsageCounter(advertiser_id=advertiser.id, period=period,
                                           starts_on=starts_on, calls=2))
    session.flush()
    assert call_checks.counters_match(session, {advertiser.id: advertiser}, legs) == []

    legs[1].counted_on = None  # a released leg whose counter was not given back
    session.flush()
    problems = call_checks.counters_match(session, {advertiser.id: advertiser}, legs)

    assert problems == [f"counter ({advertiser.id}, 'day', {TODAY!r}) holds 2, 1 legs count",
                        f"counter ({advertiser.id}, 'month', {TODAY.replace(day=1)!r}) holds 2,"
                        f" 1 legs count"]


def test_a_step_recorded_twice_a_leg_not_dialled_and_a_lost_call_are_problems(session):
    advertiser = _advertiser(session)
    leg = _leg(session, advertiser, "CAonce")
    _rows(session, ("decision", leg), ("outcome", leg, True))
    facts = call_checks.Facts.read(session)
    played = {"CAonce": Played([advertiser.phone], "connected_advertiser")}
    assert call_checks.each_step_once(session, facts) == []
    assert call_checks.calls_recorded(facts, played) == []

    _rows(session, ("decision", leg))  # the same leg routed a second time
    assert call_checks.each_step_once(session, facts) == [
        f"leg {leg.id} (call {leg.call_id}, attempt 1): 2 decision rows"]

    problems = call_checks.calls_recorded(facts, {
        "CAonce": Played(["+18006624357"], "connected_samhsa"),  # not what was recorded
        "CAlost": Played([]),  # never recorded
    })
    assert problems[0].startswith("CAonce: 1 legs recorded")
    assert problems[1] == ("CAonce: outcome 'connected_advertiser', the caller lived "
                           "'connected_samhsa'")
    assert problems[2] == "CAlost: no call recorded"
