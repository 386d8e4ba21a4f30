"""Routing against a real database (SQLite and PostgreSQL): reservations and caps, local days,
expiry, repeat callers, the SAMHSA fallback, decision rows and the tamper-evident audit chain."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from finder.calls import audit, usage
from finder.calls.callbacks import create_callback_request
from finder.calls.eligibility import Reason
from finder.calls.models import (
    AdvertiserUsageCounter,
    AttemptStatus,
    AuditEntry,
    CallAttempt,
)
from finder.calls.routing import (
    SAMHSA_HELPLINE,
    RoutingSettings,
    expire_stale_legs,
    finish_attempt,
    mark_leg,
    open_call,
    route_helpline,
)
from finder.calls.snapshots import pool_config_hash
from finder.extensions import db
from tests.factories import make_advertiser, make_pool, make_tracking_number

KEY = b"test-caller-hash-key"
FERNET_KEY = "ZGV2LW9ubHktY2FsbGJhY2sta2V5LW5vdC1zZWNyZXQ="
SETTINGS = RoutingSettings()
NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)  # Saturday, noon in Chicago
CALLER = "+12145550123"  # a Dallas (TX) area code, fictional 555-01XX line (not a factory one)
_sids = itertools.count(1)


def new_call(helpline, *, caller=CALLER, now=NOW):
    return open_call(db.session, call_sid=f"CA{next(_sids):032d}", to_number=helpline.number,
                     from_number=caller, twilio_from_state=None, hash_key=KEY, now=now)


def route(helpline, *, caller=CALLER, now=NOW):
    call = new_call(helpline, caller=caller, now=now)
    return route_helpline(db.session, call, helpline.pool, now, SETTINGS)


def counter(advertiser, period, starts_on) -> int:
    value = db.session.execute(
        sa.select(AdvertiserUsageCounter.calls).where(
            AdvertiserUsageCounter.advertiser_id == advertiser.id,
            AdvertiserUsageCounter.period == period,
            AdvertiserUsageCounter.starts_on == starts_on,
        )
    ).scalar()
    return value or 0


def decisions(call_id=None) -> list[dict]:
    audit.write_pending(db.session)  # rows queued by the step are written at its commit
    query = sa.select(AuditEntry).where(AuditEntry.kind == "decision").order_by(AuditEntry.id)
    if call_id is not None:
        query = query.where(AuditEntry.call_id == call_id)
    return [json.loads(row.payload) for row in db.session.execute(query).scalars()]


@pytest.fixture
def pool(app):
    with app.app_context():
        yield make_pool(db.session)


@pytest.fixture
def helpline(pool):
    return make_tracking_number(db.session, pool=pool)


# --- reservations and caps ------------------------------------------------------------------


def test_reserve_respects_the_daily_cap_and_release_gives_it_back(pool, helpline):
    advertiser = make_advertiser(db.session, pool, daily_cap=2)
    legs = [route(helpline) for _ in range(3)]
    assert [leg.attempt.destination_kind for leg in legs] == ["advertiser"] * 2 + ["samhsa"]
    assert counter(advertiser, "day", NOW.date()) == 2
    assert usage.reserve(db.session, advertiser, NOW) == Reason.DAILY_CAP_REACHED
    assert counter(advertiser, "day", NOW.date()) == 2

    finish_attempt(db.session, legs[0].attempt, dial_call_status="no-answer", duration=None,
                   now=NOW)
    assert legs[0].attempt.status == AttemptStatus.FAILED
    assert legs[0].attempt.counted_on is None
    assert counter(advertiser, "day", NOW.date()) == 1
    assert counter(advertiser, "month", NOW.date().replace(day=1)) == 1
    # Released twice (a retried callback) gives back only once.
    usage.release(db.session, legs[0].attempt)
    assert counter(advertiser, "day", NOW.date()) == 1
    assert route(helpline).attempt.advertiser_id == advertiser.id


def test_reserve_respects_the_monthly_cap(pool):
    advertiser = make_advertiser(db.session, pool, monthly_cap=2)
    assert usage.reserve(db.session, advertiser, NOW) is None
    assert usage.reserve(db.session, advertiser, NOW + timedelta(days=2)) is None
    assert usage.reserve(db.session, advertiser, NOW + timedelta(days=4)) == \
        Reason.MONTHLY_CAP_REACHED
    # The refused reservation left the new day's counter as it was.
    assert counter(advertiser, "day", (NOW + timedelta(days=4)).date()) == 0
    # December is a new month in Chicago.
    assert usage.reserve(db.session, advertiser, datetime(2026, 12, 1, 6, 30, tzinfo=UTC)) is None


def test_reserve_respects_the_concurrent_cap_and_undoes_its_counts(pool, helpline):
    advertiser = make_advertiser(db.session, pool, concurrent_cap=2)
    first, second = route(helpline), route(helpline)
    assert {first.attempt.advertiser_id, second.attempt.advertiser_id} == {advertiser.id}
    assert usage.reserve(db.session, advertiser, NOW) == Reason.CONCURRENT_CAP_REACHED
    assert counter(advertiser, "day", NOW.date()) == 2
    assert route(helpline).attempt.destination_kind == "samhsa"
    # A bridged leg is still live; a completed one is not.
    mark_leg(db.session, first.attempt, event="answered", leg_sid="CL1", now=NOW,
             settings=SETTINGS)
    assert usage.live_legs(db.session, advertiser.id, NOW) == 2
    finish_attempt(db.session, first.attempt, dial_call_status="completed", duration=60, now=NOW)
    assert usage.live_legs(db.session, advertiser.id, NOW) == 1
    assert route(helpline).attempt.advertiser_id == advertiser.id
    assert counter(advertiser, "day", NOW.date()) == 3  # completed calls still count today


def test_a_lost_reservation_moves_on_to_the_next_advertiser(pool, helpline, monkeypatch):
    full = make_advertiser(db.session, pool, daily_cap=1, weight=5)
    other = make_advertiser(db.session, pool)
    assert usage.reserve(db.session, full, NOW) is None
    # As if another process filled the cap between the snapshot and the reservation.
    monkeypatch.setattr("finder.calls.routing.usage_for",
                        lambda session, advertisers, now: {})
    leg = route(helpline)
    assert leg.attempt.advertiser_id == other.id
    (payload,) = decisions(leg.attempt.call_id)
    assert payload["lost_reservations"] == {str(full.id): "daily_cap_reached"}
    assert counter(full, "day", NOW.date()) == 1


def test_a_leg_finished_by_two_requests_at_once_is_released_once(pool, helpline):
    advertiser = make_advertiser(db.session, pool)
    leg, _other = route(helpline), route(helpline)
    db.session.commit()
    with Session(db.engine) as dial_action, Session(db.engine) as status_callback:
        seen_by_action = dial_action.get(CallAttempt, leg.attempt.id)
        seen_by_callback = status_callback.get(CallAttempt, leg.attempt.id)
        assert seen_by_action.status == seen_by_callback.status == AttemptStatus.RESERVED
        finish_attempt(dial_action, seen_by_action, dial_call_status="no-answer",
                       duration=None, now=NOW)
        dial_action.commit()
        # The other request read the leg before the first one finished it.
        assert not finish_attempt(status_callback, seen_by_callback,
                                  dial_call_status="canceled", duration=None, now=NOW)
        status_callback.commit()
    db.session.expire_all()
    assert counter(advertiser, "day", NOW.date()) == 1
    outcomes = db.session.execute(
        sa.select(sa.func.count()).select_from(AuditEntry).where(
            AuditEntry.kind == "outcome", AuditEntry.call_id == leg.attempt.call_id)
    ).scalar_one()
    assert outcomes == 1


# --- local days --------------------------------------------------------------------------


def test_counters_are_kept_per_local_day_of_the_advertiser(pool):
    chicago = make_advertiser(db.session, pool, daily_cap=1, timezone="America/Chicago")
    late = datetime(2026, 11, 20, 23, 30, tzinfo=UTC) + timedelta(hours=6)  # 23:30 CST
    early = late + timedelta(hours=1)  # 00:30 CST, the next local day
    assert usage.reserve(db.session, chicago, late) is None
    assert usage.reserve(db.session, chicago, early) is None
    assert counter(chicago, "day", datetime(2026, 11, 20).date()) == 1
    assert counter(chicago, "day", datetime(2026, 11, 21).date()) == 1
    # In UTC both were on November 21: a UTC day would have refused the second call.
    assert late.date() == early.date()


@pytest.mark.parametrize(
    ("first", "second", "same_day"),
    [
        # 1 Nov 2026 has 25 hours in Chicago: 00:30 CDT and 23:30 CST are 24 hours apart.
        (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 2, 5, 30, tzinfo=UTC), True),
        # 8 Mar 2026 has 23 hours: 00:30 CST and 23:30 CDT are 22 hours apart.
        (datetime(2026, 3, 8, 6, 30, tzinfo=UTC), datetime(2026, 3, 9, 4, 30, tzinfo=UTC), True),
        # ...and 00:30 CDT on 9 March is only an hour later, but a new day.
        (datetime(2026, 3, 9, 4, 30, tzinfo=UTC), datetime(2026, 3, 9, 5, 30, tzinfo=UTC), False),
    ],
)
def test_daylight_saving_days(pool, first, second, same_day):
    chicago = make_advertiser(db.session, pool, daily_cap=1, timezone="America/Chicago")
    assert usage.reserve(db.session, chicago, first) is None
    refused = usage.reserve(db.session, chicago, second)
    assert refused == (Reason.DAILY_CAP_REACHED if same_day else None)


# --- expiry ------------------------------------------------------------------------------


def test_expired_legs_stop_counting_and_are_marked(pool, helpline):
    advertiser = make_advertiser(db.session, pool, concurrent_cap=1)
    leg = route(helpline)
    assert leg.attempt.advertiser_id == advertiser.id
    assert route(helpline).attempt.destination_kind == "samhsa"
    later = leg.attempt.expires_at + timedelta(seconds=1)
    assert usage.live_legs(db.session, advertiser.id, later) == 0
    assert route(helpline, now=later).attempt.advertiser_id == advertiser.id
    # All three legs (the SAMHSA one too) are past their expiry five minutes later.
    assert expire_stale_legs(db.session, later + timedelta(minutes=5)) == 3
    db.session.refresh(leg.attempt)
    assert leg.attempt.status == AttemptStatus.EXPIRED
    assert expire_stale_legs(db.session, later + timedelta(minutes=5)) == 0
    # A late callback still records the outcome of an expired leg.
    finish_attempt(db.session, leg.attempt, dial_call_status="completed", duration=30, now=later)
    assert leg.attempt.status == AttemptStatus.COMPLETED


# --- repeat callers ------------------------------------------------------------------------


def _connected(helpline, caller, now):
    leg = route(helpline, caller=caller, now=now)
    finish_attempt(db.session, leg.attempt, dial_call_status="completed", duration=120, now=now)
    return leg


@pytest.mark.parametrize(("later", "repeat"), [(timedelta(hours=1), True),
                                               (timedelta(days=3), False)])
def test_a_repeat_caller_goes_back_within_the_window(pool, helpline, later, repeat):
    pool.repeat_window_days = 2
    first = make_advertiser(db.session, pool)
    second = make_advertiser(db.session, pool)
    assert _connected(helpline, CALLER, NOW).attempt.advertiser_id == first.id
    when = NOW + later
    if not repeat:  # a new day: someone else reaches ``first`` first
        _connected(helpline, "+12145550177", when)
    # Either way ``first`` has taken a call today, so the ratio alone would pick ``second``.
    leg = route(helpline, caller=CALLER, now=when)
    if repeat:
        assert leg.attempt.advertiser_id == first.id
        assert leg.decision.rule == "repeat_caller"
    else:
        assert leg.attempt.advertiser_id == second.id
        assert leg.decision.rule == "tier_weight"


def test_a_failed_attempt_does_not_make_a_repeat_caller(pool, helpline):
    first = make_advertiser(db.session, pool)
    second = make_advertiser(db.session, pool)
    leg = route(helpline)
    finish_attempt(db.session, leg.attempt, dial_call_status="busy", duration=None, now=NOW)
    _connected(helpline, "+12145550177", NOW)  # ``first`` took a call: ratio favours second
    again = route(helpline, now=NOW + timedelta(minutes=5))
    assert (leg.attempt.advertiser_id, again.attempt.advertiser_id) == (first.id, second.id)


# --- the SAMHSA fallback and failover ----------------------------------------------------------


def test_an_empty_pool_gives_the_samhsa_helpline_and_a_decision(pool, helpline):
    leg = route(helpline)
    assert leg.number == SAMHSA_HELPLINE and leg.attempt.destination_kind == "samhsa"
    (payload,) = decisions(leg.attempt.call_id)
    assert payload["rule"] == "none_eligible" and payload["candidates"] == []
    assert payload["chosen_destination"] == "samhsa"


def test_nobody_eligible_gives_the_samhsa_helpline_with_every_reason(pool, helpline):
    make_advertiser(db.session, pool, states_served=["CA"])
    make_advertiser(db.session, pool, license_expires_on=NOW.date() - timedelta(days=1))
    make_advertiser(db.session, pool, active=False)
    leg = route(helpline)
    assert leg.number == SAMHSA_HELPLINE
    (payload,) = decisions(leg.attempt.call_id)
    reasons = [set(c["reasons"]) for c in payload["candidates"]]
    assert reasons == [{"state_not_served"}, {"license_expired"}, {"inactive"}]


def test_no_pool_gives_the_samhsa_helpline(pool, helpline):
    call = new_call(helpline)
    leg = route_helpline(db.session, call, None, NOW, SETTINGS)
    assert leg.number == SAMHSA_HELPLINE
    assert decisions(call.id)[0]["rule"] == "no_pool"


def test_failover_tries_each_advertiser_once_then_samhsa(pool, helpline):
    pool.max_attempts = 2
    advertisers = [make_advertiser(db.session, pool) for _ in range(3)]
    call = new_call(helpline)
    dialed = []
    for _ in range(3):
        leg = route_helpline(db.session, call, pool, NOW, SETTINGS, via="failover")
        dialed.append(leg.attempt.advertiser_id)
        finish_attempt(db.session, leg.attempt, dial_call_status="no-answer", duration=None,
                       now=NOW)
    assert dialed == [advertisers[0].id, advertisers[1].id, None]
    assert [a.attempt_number for a in call.attempts] == [1, 2, 3]


# --- decision rows -----------------------------------------------------------------------


def test_every_decision_row_holds_what_decided_the_call(pool, helpline):
    chosen = make_advertiser(db.session, pool, weight=3)
    closed = make_advertiser(db.session, pool, hours={"mon": [["09:00", "17:00"]]})
    leg = route(helpline)
    assert leg.attempt.advertiser_id == chosen.id
    (payload,) = decisions(leg.attempt.call_id)
    assert payload["pool_config_hash"] == pool_config_hash(pool, [chosen, closed])
    assert payload["state_signal"] == "area_code" and payload["caller_state"] == "TX"
    assert payload["rule"] == "tier_weight" and payload["chosen_advertiser_id"] == chosen.id
    assert payload["figures"]["ratios"] == {str(chosen.id): "0/3"}
    by_id = {c["advertiser_id"]: c for c in payload["candidates"]}
    assert by_id[closed.id]["reasons"] == ["outside_business_hours"]
    assert by_id[chosen.id]["eligible"] and by_id[chosen.id]["figures"]["daily_cap"] is None
    assert by_id[chosen.id]["figures"]["local_time"] == "2026-11-21T12:00-06:00"
    assert payload["number_kind"] == "helpline" and payload["via"] == "helpline"
    # A changed configuration is a different hash.
    chosen.weight = 4
    assert pool_config_hash(pool, [chosen, closed]) != payload["pool_config_hash"]


# --- the audit chain ---------------------------------------------------------------------


@pytest.fixture
def chain(pool, helpline):
    """Five audit rows: decisions and outcomes of three calls."""
    make_advertiser(db.session, pool)
    for status in ("completed", "no-answer"):
        leg = route(helpline)
        finish_attempt(db.session, leg.attempt, dial_call_status=status, duration=None, now=NOW)
    route(helpline)
    db.session.commit()
    assert audit.verify(db.session) == audit.ChainReport(True, 5)
    return pool


def _sql(statement: str, **params) -> None:
    db.session.execute(sa.text(statement), params)
    db.session.commit()


def _hash(entry_id: int) -> str:
    return db.session.execute(sa.text("SELECT row_hash FROM routing_audit WHERE id = :id"),
                              {"id": entry_id}).scalar_one()


@pytest.mark.parametrize(
    ("tamper", "broken", "problem"),
    [
        ("UPDATE routing_audit SET payload = replace(payload, '\"via\":\"helpline\"', "
         "'\"via\":\"failover\"') WHERE id = 3", 3, "altered"),
        ("UPDATE routing_audit SET created_at = created_at + interval '1 second' WHERE id = 4",
         4, "altered"),
        ("UPDATE routing_audit SET attempt_number = 2 WHERE id = 2", 2, "altered"),
        ("DELETE FROM routing_audit WHERE id = 2", 2, "missing"),
        # Row 3 removed and row 4 renumbered to close the gap: the link to row 2 breaks.
        ("DELETE FROM routing_audit WHERE id = 3; "
         "UPDATE routing_audit SET id = 3 WHERE id = 4", 3, "does not follow"),
    ],
)
def test_verify_names_the_first_broken_row(chain, backend, tamper, broken, problem):
    if backend == "sqlite":
        tamper = tamper.replace("created_at + interval '1 second'",
                                "strftime('%Y-%m-%d %H:%M:%f', created_at, '+1 second')")
    for statement in tamper.split("; "):
        _sql(statement)
    report = audit.verify(db.session)
    assert not report.intact
    assert report.first_broken_id == broken
    assert problem in report.problem and str(broken) in report.problem
    assert report.rows_checked == broken - 1


def test_verify_notices_swapped_hashes(chain):
    second, third = _hash(2), _hash(3)
    _sql("UPDATE routing_audit SET row_hash = 'x' WHERE id = 2")
    _sql("UPDATE routing_audit SET row_hash = :h WHERE id = 3", h=second)
    _sql("UPDATE routing_audit SET row_hash = :h WHERE id = 2", h=third)
    report = audit.verify(db.session)
    assert (report.intact, report.first_broken_id) == (False, 2)


def test_verify_walks_a_chain_longer_than_one_batch(chain):
    _sql("UPDATE routing_audit SET payload = payload || ' ' WHERE id = 5")
    assert audit.verify(db.session, batch=2).first_broken_id == 5
    _sql("UPDATE routing_audit SET payload = rtrim(payload) WHERE id = 5")
    assert audit.verify(db.session, batch=2) == audit.ChainReport(True, 5)


# --- privacy -----------------------------------------------------------------------------


def _spellings(number: str) -> list[str]:
    national = number[2:]
    return [national, f"{national[:3]}-{national[3:6]}-{national[6:]}",
            f"({national[:3]}) {national[3:6]}-{national[6:]}", f"{national[3:6]}-{national[6:]}"]


def test_caller_numbers_never_appear_in_any_table(pool, helpline):
    make_advertiser(db.session, pool)
    callers = [CALLER, "+19175550188", "+16025550166"]
    for caller in callers:
        leg = route(helpline, caller=caller)
        finish_attempt(db.session, leg.attempt, dial_call_status="busy", duration=None, now=NOW)
        leg = route_helpline(db.session, leg.attempt.call, pool, NOW, SETTINGS, via="failover")
        create_callback_request(db.session, leg.attempt.call, caller, FERNET_KEY)
    db.session.commit()

    metadata = sa.MetaData()
    metadata.reflect(bind=db.engine)
    seen = 0
    for table in metadata.sorted_tables:
        for row in db.session.execute(sa.select(table)):
            text = " ".join(str(value) for value in row)
            seen += 1
            for caller in callers:
                for spelling in _spellings(caller):
                    assert spelling not in text, f"{spelling} found in {table.name}"
    assert seen > 20
    assert db.session.execute(sa.select(sa.func.count()).select_from(CallAttempt)).scalar() == 6


def test_rows_appended_in_one_commit_chain_like_any_others(chain):
    """Several rows in one commit, with and without a call or an attempt and with text beyond
    ASCII, hash the same whether the server (PostgreSQL) or Python (SQLite) appends them."""
    audit.append(db.session, call_id=None, attempt_number=None, kind="outcome",
                 payload={"event": "test", "note": "Peña — café ✓"})
    call_id = db.session.execute(sa.select(AuditEntry.call_id).limit(1)).scalar_one()
    audit.append(db.session, call_id=call_id, attempt_number=None, kind="outcome",
                 payload={"event": "callback_requested"})
    audit.append(db.session, call_id=call_id, attempt_number=7, kind="decision",
                 payload={"event": "test", "figures": {"ratio": 0.5}})
    db.session.commit()
    rows = db.session.execute(sa.select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
    assert [row.id for row in rows] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [(row.call_id, row.attempt_number) for row in rows[5:]] == [
        (None, None), (call_id, None), (call_id, 7)]
    pairs = zip(rows, rows[1:], strict=False)
    assert all(row.prev_hash == before.row_hash for before, row in pairs)
    assert audit.verify(db.session) == audit.ChainReport(True, 8)
    assert all(check.intact for check in audit.check_rows(db.session, rows[5:]))
