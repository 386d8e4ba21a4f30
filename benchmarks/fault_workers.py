"""Faults 3a, 3b and 3c: gunicorn workers killed mid-call, and the leg such a kill leaves open.

3a holds four requests at their first database write (``LOCK TABLE webhook_receipt``), three of
them inside one worker, and kills that worker; 3b kills workers at random under callers; 3c waits
for 3a's open leg to expire and checks that its advertiser's only slot is free again.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from benchmarks import fault_calls as calls
from benchmarks.fault_run import (
    RING_SECONDS,
    Run,
    Stranded,
    Verdict,
    dial_params,
    finish,
    ms,
    with_callers,
)
from benchmarks.twilio_double import (
    Exchange,
    call_params,
    connect_to,
    connects_to_samhsa,
    dialled,
)
from finder.calls.models import AttemptStatus, CallAttempt, CallStatus
from finder.calls.twiml import FALLBACK_TWIML


def _connections_on_one_worker(run: Run, count: int):
    """``count`` fresh connections held by one worker, and one held by another worker.
    Returns (that worker, its connections, the other connection)."""
    master, port = run.server.process.pid, run.server.port
    doomed, other = run.workers()[:2]
    return (doomed, [connect_to(run.twilio, master, port, doomed) for _ in range(count)],
            connect_to(run.twilio, master, port, other))

def _wait_for_lock_waiters(run: Run, count: int, timeout: float = 15) -> bool:
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()")
    deadline = time.monotonic() + timeout
    with run.engine.connect() as conn:
        while time.monotonic() < deadline:
            if conn.execute(query).scalar_one() >= count:
                return True
            conn.rollback()
            time.sleep(0.02)
    return False

def kill_mid_call(run: Run) -> tuple[Verdict, Stranded | None]:
    verdict = Verdict("3a worker killed mid-call (deterministic)")
    tw, problems = run.twilio, verdict.problems
    caller = calls.caller_number(run.rng)
    # Two calls in progress (each routed, its leg ringing), a third about to start.
    k1, k2, k3, k4 = (run.sid(tag) for tag in ("kila", "kilb", "kilc", "kild"))
    first = {sid: tw.webhook("/voice/incoming", call_params(sid, caller, to))
             for sid, to in ((k1, calls.EXPIRY_LINE), (k2, calls.LINE))}
    dials = {sid: dialled(exchange.body) for sid, exchange in first.items()}
    if dials[k1] is None or dials[k1][0] != calls.EXPIRY_ADVERTISER[1] or dials[k2] is None:
        verdict.problems.append(f"the calls were not routed before the kill: {dials}")
        return verdict, None

    doomed, doomed_conns, other_conn = _connections_on_one_worker(run, 3)
    results: dict[str, Exchange] = {}
    requests = {
        k1: (dials[k1][1], dial_params(k1, caller, calls.EXPIRY_LINE, 1, "no-answer"),
             doomed_conns[0], doomed),
        k2: (dials[k2][1], dial_params(k2, caller, calls.LINE, 1, "no-answer"),
             doomed_conns[1], doomed),
        k3: ("/voice/incoming", call_params(k3, caller, calls.LINE), doomed_conns[2], doomed),
        k4: ("/voice/incoming", call_params(k4, caller, calls.LINE), other_conn, None),
    }

    def send(sid: str) -> None:
        results[sid] = tw.webhook(*requests[sid])

    threads = {sid: threading.Thread(target=send, args=(sid,), daemon=True) for sid in requests}
    with run.engine.connect() as blocker:
        # Every step starts by inserting its webhook receipt: hold the four steps there, inside
        # their workers, until the kill.
        blocker.execute(sa.text("LOCK TABLE webhook_receipt IN SHARE MODE"))
        for thread in threads.values():
            thread.start()
        if not _wait_for_lock_waiters(run, len(requests)):
            problems.append("the four requests never reached the database")
        killed_at = time.monotonic()
        os.kill(doomed, signal.SIGKILL)
        respawn = run.wait_for_workers({doomed})
        for sid in (k1, k2, k3):
            threads[sid].join(timeout=30)
        blocker.commit()
    threads[k4].join(timeout=30)

    # What Twilio got for the three requests on the killed worker.
    fallback_ms = []
    for sid in (k1, k2, k3):
        exchange = results.get(sid)
        if exchange is None or not exchange.failed:
            problems.append(f"{sid}: its request on the killed worker was answered anyway "
                            f"({exchange and exchange.status})")
            continue
        fallback = exchange.fallback
        if fallback is None or fallback.status != 200 or fallback.body != FALLBACK_TWIML \
                or not connects_to_samhsa(fallback.body):
            problems.append(f"{sid}: the fallback URL did not answer the static SAMHSA TwiML")
        else:
            fallback_ms.append(fallback.done - killed_at)
    control = results.get(k4)
    if control is None or control.failed or dialled(control.body) is None \
            or connects_to_samhsa(control.body):
        problems.append(f"the request on another worker was not routed to an advertiser: "
                        f"{control and (control.status, control.body[:100])}")
    if respawn is None:
        problems.append("gunicorn did not replace the killed worker within 30 s")

    # Twilio goes on: the caller of K2 and K3 heard SAMHSA, then hung up (status callbacks);
    # K1's status callback is lost too, so its leg stays open. K4 goes on normally.
    for sid in (k2, k3):
        status = tw.request("/voice/status", call_params(sid, caller, calls.LINE,
                                                         CallStatus="completed",
                                                         CallDuration="80"))
        if status.status != 204:
            problems.append(f"{sid}: status callback answered {status.status}")
    if control is not None:
        finish(run, k4, caller, calls.LINE, control.body)

    stranded = _after_the_kill(run, verdict, k1, k2, k3, k4)
    verdict.figures = [
        f"3 requests in flight on worker {doomed} died with it, each then answered by "
        f"/voice/fallback with the static SAMHSA TwiML "
        f"{ms([s * 1000 for s in fallback_ms])} after the kill",
        f"gunicorn replaced the worker {respawn:.2f} s after the kill" if respawn is not None
        else "worker not replaced",
        "the request waiting in another worker was routed normally",
    ] + verdict.figures
    return verdict, stranded

def _after_the_kill(run: Run, verdict: Verdict, k1: str, k2: str, k3: str,
                    k4: str) -> Stranded | None:
    problems = verdict.problems
    one, two, three, four = (run.call(sid) for sid in (k1, k2, k3, k4))
    if two is None or len(two.attempts) != 1 or two.status != CallStatus.COMPLETED \
            or two.attempts[0].status in (AttemptStatus.RESERVED, AttemptStatus.BRIDGED):
        problems.append(f"K2 (its no-answer dial action died): expected one closed leg, got "
                        f"{two and [(a.dialed_number, a.status) for a in two.attempts]}")
    if three is None:
        problems.append(
            f"{k3}: its first webhook died with the worker before committing; Twilio's "
            "fallback connected it to SAMHSA and its status callback came later, but the call "
            "is not recorded (a status callback for an unknown CallSid is dropped)")
    if four is None or len(four.attempts) != 1:
        problems.append("K4 (routed by another worker) is not recorded with its leg")
    if one is None or len(one.attempts) != 1 or one.attempts[0].status != AttemptStatus.RESERVED:
        problems.append(f"K1: expected its one leg still open, got "
                        f"{one and [(a.dialed_number, a.status) for a in one.attempts]}")
        return None
    leg = one.attempts[0]
    # While that leg is open it holds the expiry advertiser's only slot.
    probe = run.sid("prba")
    caller = calls.caller_number(run.rng)
    answer = run.twilio.webhook("/voice/incoming", call_params(probe, caller, calls.EXPIRY_LINE))
    probe_call = run.call(probe)
    with run.session() as session:
        reasons = calls.decision_reasons(session, probe_call.id) if probe_call else set()
    if not connects_to_samhsa(answer.body) or answer.body == FALLBACK_TWIML \
            or "concurrent_cap_reached" not in reasons:
        problems.append(f"a call while K1's leg is open was not sent to SAMHSA for the "
                        f"concurrent cap: {answer.body[:120]} {sorted(reasons)}")
    finish(run, probe, caller, calls.EXPIRY_LINE, answer.body)
    with run.session() as session:
        problems += calls.consistency(session)
    verdict.figures.append(
        "K1's leg, left open (its dial action died, its status callback was lost), holds its "
        "advertiser's only slot: the next call on that line went to SAMHSA "
        "(concurrent_cap_reached)")
    return Stranded(k1, leg.id, _utc(leg.started_at), _utc(leg.expires_at))

def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

def kills_under_load(run: Run) -> Verdict:
    args = run.args
    verdict = Verdict(f"3b {args.kills} workers killed at random under {args.kill_callers} "
                      f"callers")
    killed: list[int] = []

    def kill_some() -> None:
        for _ in range(args.kills):
            time.sleep(args.kill_seconds / (args.kills + 1))
            alive = run.workers()
            while not alive:  # gunicorn is between a death and its replacement
                time.sleep(0.05)
                alive = run.workers()
            victim = run.rng.choice(alive)
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
        time.sleep(args.kill_seconds / (args.kills + 1))

    played = with_callers(run, "load", args.kill_callers, args.kill_pause, 100, kill_some)
    respawn = run.wait_for_workers(set(killed))
    if respawn is None:
        verdict.problems.append("gunicorn did not get back to its workers within 30 s")
    exchanges = [e for call in played for e in call.exchanges]
    died = [e for e in exchanges if e.failed and e.endpoint != "status"]
    status_died = [e for e in exchanges if e.failed and e.endpoint == "status"]
    problems, fared = calls.check_played(run.pg.url, played)
    verdict.problems += problems
    lost = fared["fallback and not recorded"]
    if lost:
        verdict.problems.append(f"{lost} calls whose first webhook died with a worker are not "
                                "recorded (their status callbacks came later)")
    verdict.figures = [
        f"{len(played)} calls, {len(exchanges)} requests; {len(died)} voice webhooks got no "
        f"answer (they died with a worker) and /voice/fallback answered them, "
        f"{len(status_died)} status callback(s) died",
        f"{fared['recorded']} calls recorded, {fared['an extra leg from a lost answer']} with "
        f"a leg whose answer was lost, {fared['status callback unanswered']} whose status "
        f"callback got no answer",
        "nothing counted twice, counters = legs that count, audit chain intact"
        if not problems else f"{len(problems)} problems",
    ]
    return verdict

def open_leg_expires(run: Run, stranded: Stranded | None) -> Verdict:
    verdict = Verdict("3c the open leg expires and frees its slot")
    if stranded is None:
        verdict.problems.append("no open leg was left by 3a")
        return verdict
    wait = (stranded.expires_at - datetime.now(UTC)).total_seconds() + 1
    if wait > 0:
        print(f"  waiting {wait:.0f} s for the open leg to expire "
              f"(CALL_RING_SECONDS={RING_SECONDS} + 60 s)")
        time.sleep(wait)
    probe, caller = run.sid("prbb"), calls.caller_number(run.rng)
    answer = run.twilio.webhook("/voice/incoming", call_params(probe, caller, calls.EXPIRY_LINE))
    dial = dialled(answer.body)
    if dial is None or dial[0] != calls.EXPIRY_ADVERTISER[1]:
        verdict.problems.append(f"after the expiry a new call did not get the advertiser: "
                                f"{answer.body[:160]}")
    finish(run, probe, caller, calls.EXPIRY_LINE, answer.body)
    # Some later webhook closes the leg (each worker does it every so often): Twilio's
    # duplicate of the probe's status callback is one (answered from its receipt).
    marked, started = None, time.monotonic()
    while time.monotonic() - started < 45:
        with run.session() as session:
            status = session.get(CallAttempt, stranded.attempt_id).status
        if status == AttemptStatus.EXPIRED:
            marked = time.monotonic() - started
            break
        run.twilio.request("/voice/status", call_params(probe, caller, calls.EXPIRY_LINE,
                                                        CallStatus="completed",
                                                        CallDuration="60"))
        time.sleep(1)
    if marked is None:
        verdict.problems.append(f"the leg is still {status} 45 s after its expiry")
    with run.session() as session:
        verdict.problems += calls.consistency(session)
    life = (stranded.expires_at - stranded.routed_at).total_seconds()
    verdict.figures = [
        f"the leg stopped counting {life:.0f} s after it was routed: the next call got the "
        f"advertiser again" if not verdict.problems or dial else "the slot was not freed",
        f"a later webhook marked it expired ({marked:.1f} s after the new call)"
        if marked is not None else "never marked expired",
    ]
    return verdict
