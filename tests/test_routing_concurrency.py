"""Several processes route calls into one pool with tight caps at once: no cap is ever exceeded.

Each process opens its own engine on the same database and, like the webhooks, routes a call in
one transaction, then finishes some legs (fails over in the same transaction as the failure, or
completes them). Afterwards the audit chain is replayed in order to show that at no moment did an
advertiser hold more live legs, or more counted calls, than its caps allow.
"""

from __future__ import annotations

import json
import multiprocessing
import time
import traceback
from collections import Counter
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from finder.calls import audit
from finder.calls.models import (
    Advertiser,
    AdvertiserPool,
    AdvertiserUsageCounter,
    AuditEntry,
    Call,
    CallAttempt,
)
from finder.calls.routing import RoutingSettings, finish_attempt, open_call, route_helpline
from finder.calls.usage import LIVE
from finder.extensions import db
from finder.sqlite_tuning import install
from tests.factories import make_advertiser, make_pool, make_tracking_number

PROCESSES = 6
CALLS_PER_PROCESS = 10
DAILY_CAP = 5
CONCURRENT_CAP = 2
NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
KEY = b"concurrency-test-key"
TIME_LIMIT = 45  # seconds for all the processes together


def _engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    install(engine)
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _patient(dbapi_connection, _record):
            # SQLite has one writer: the others wait their turn instead of failing.
            dbapi_connection.execute("PRAGMA busy_timeout=30000")
    return engine


def caller(n: int) -> str:
    return f"+1214555{100 + n:04d}"  # fictional Dallas numbers, 555-0100..555-0159


def worker(url: str, pool_id: int, number: str, index: int, barrier, results) -> None:
    """Route CALLS_PER_PROCESS calls; every third leg fails over, every third completes."""
    try:
        engine = _engine(url)
        settings = RoutingSettings()
        outcomes = Counter()
        barrier.wait(timeout=TIME_LIMIT)
        with Session(engine) as session:
            for i in range(CALLS_PER_PROCESS):
                n = index * CALLS_PER_PROCESS + i
                call = open_call(session, call_sid=f"CA{n:032d}", to_number=number,
                                 from_number=caller(n), twilio_from_state=None, hash_key=KEY,
                                 now=NOW)
                leg = route_helpline(session, call, session.get(AdvertiserPool, pool_id), NOW,
                                     settings)
                session.commit()
                outcomes[leg.attempt.destination_kind] += 1
                if leg.attempt.destination_kind != "advertiser":
                    continue
                attempt = session.get(CallAttempt, leg.attempt.id)
                if n % 3 == 0:  # no answer: fail over within the same transaction
                    finish_attempt(session, attempt, dial_call_status="no-answer",
                                   duration=None, now=NOW)
                    again = route_helpline(session, attempt.call,
                                           session.get(AdvertiserPool, pool_id), NOW, settings,
                                           via="failover")
                    session.commit()
                    outcomes["failover_" + again.attempt.destination_kind] += 1
                elif n % 3 == 1:  # answered and over: frees a concurrent slot, still counted
                    finish_attempt(session, attempt, dial_call_status="completed",
                                   duration=60, now=NOW)
                    session.commit()
        engine.dispose()
        results.put((index, "ok", dict(outcomes)))
    except BaseException:  # noqa: BLE001 - reported to the parent, which fails the test
        results.put((index, "error", traceback.format_exc()))


def _replay(session: Session, advertisers: dict[int, Advertiser]) -> None:
    """Walk the audit rows in order and check the caps after every one of them."""
    live, counted = Counter(), Counter()
    attempts = {(a.call_id, a.attempt_number): a.advertiser_id
                for a in session.execute(sa.select(CallAttempt)).scalars()}
    for entry in session.execute(sa.select(AuditEntry).order_by(AuditEntry.id)).scalars():
        advertiser_id = attempts.get((entry.call_id, entry.attempt_number))
        if advertiser_id is None:
            continue
        payload = json.loads(entry.payload)
        if entry.kind == "decision":
            live[advertiser_id] += 1
            counted[advertiser_id] += 1
        elif entry.kind == "outcome":
            live[advertiser_id] -= 1
            if not payload["bridged"]:
                counted[advertiser_id] -= 1  # a failed attempt gives its call back
        advertiser = advertisers[advertiser_id]
        assert live[advertiser_id] <= advertiser.concurrent_cap, (entry.id, advertiser.name)
        assert counted[advertiser_id] <= advertiser.daily_cap, (entry.id, advertiser.name)


def test_caps_hold_under_calls_from_several_processes(app):
    with app.app_context():
        pool = make_pool(db.session, max_attempts=3)
        for weight in (1, 2, 3):
            make_advertiser(db.session, pool, weight=weight, daily_cap=DAILY_CAP,
                            concurrent_cap=CONCURRENT_CAP)
        number = make_tracking_number(db.session, pool=pool).number
        pool_id = pool.id
        db.session.commit()
        url = db.engine.url.render_as_string(hide_password=False)
        db.engine.dispose()

    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    processes = [context.Process(target=worker, args=(url, pool_id, number, i, barrier, results))
                 for i in range(PROCESSES)]
    started = time.monotonic()
    for process in processes:
        process.start()
    reports = []
    try:
        for _ in processes:
            remaining = TIME_LIMIT - (time.monotonic() - started)
            reports.append(results.get(timeout=max(remaining, 1)))
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
    errors = [report for _, status, report in reports if status != "ok"]
    assert not errors, errors[0]
    outcomes = sum((Counter(report) for _, _, report in reports), Counter())
    assert sum(outcomes[k] for k in ("advertiser", "samhsa")) == PROCESSES * CALLS_PER_PROCESS
    # The caps did bind: 3 advertisers × 5 calls a day cannot keep 40 calls that do not fail.
    assert outcomes["samhsa"] >= 40 - 3 * DAILY_CAP and outcomes["advertiser"] > 0

    with app.app_context():
        session = db.session
        advertisers = {a.id: a for a in session.execute(sa.select(Advertiser)).scalars()}
        day = NOW.date()  # noon in Chicago: the same local day for every call
        for advertiser in advertisers.values():
            truth = session.execute(
                sa.select(sa.func.count()).select_from(CallAttempt).where(
                    CallAttempt.advertiser_id == advertiser.id, CallAttempt.counted_on == day)
            ).scalar_one()
            counters = dict(session.execute(
                sa.select(AdvertiserUsageCounter.period, AdvertiserUsageCounter.calls).where(
                    AdvertiserUsageCounter.advertiser_id == advertiser.id)
            ).all())
            assert (counters.get("day", 0), counters.get("month", 0)) == (truth, truth)
            assert truth <= DAILY_CAP
            live = session.execute(
                sa.select(sa.func.count()).select_from(CallAttempt).where(
                    CallAttempt.advertiser_id == advertiser.id, CallAttempt.status.in_(LIVE))
            ).scalar_one()
            assert live <= CONCURRENT_CAP

        # Exactly one decision row per attempt, and every call was answered by someone.
        per_attempt = Counter(tuple(row) for row in session.execute(
            sa.select(AuditEntry.call_id, AuditEntry.attempt_number)
            .where(AuditEntry.kind == "decision")
        ))
        attempts = [tuple(row) for row in session.execute(
            sa.select(CallAttempt.call_id, CallAttempt.attempt_number)
        )]
        assert set(per_attempt) == set(attempts)
        assert set(per_attempt.values()) == {1}
        calls = session.execute(sa.select(sa.func.count()).select_from(Call)).scalar_one()
        assert calls == PROCESSES * CALLS_PER_PROCESS
        assert len({call_id for call_id, _ in attempts}) == calls

        report = audit.verify(session)
        assert report.intact, report
        _replay(session, advertisers)
    assert time.monotonic() - started < 60
