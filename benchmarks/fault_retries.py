"""Fault 2: Twilio retries a webhook. Every step of two calls, many times at once and after."""

from __future__ import annotations

import threading

from benchmarks import fault_calls as calls
from benchmarks.fault_run import Run, Verdict, dial_params
from benchmarks.twilio_double import (
    Exchange,
    call_params,
    connect_to,
    dialled,
    parse,
    worker_of,
)
from finder.calls.models import AttemptStatus, CallStatus
from finder.calls.twiml import FALLBACK_TWIML


def _wave(run: Run, path: str, params: dict) -> tuple[list[Exchange], int]:
    """The same signed request ``--retry-copies`` times at once on fresh connections, then
    ``--retry-sequential`` times one after another. Returns every exchange, and on how many
    workers the simultaneous copies landed."""
    copies = run.args.retry_copies
    current = run.workers()
    master, port = run.server.process.pid, run.server.port
    conns = [connect_to(run.twilio, master, port, current[i % len(current)])
             for i in range(copies)]
    owners = {worker_of(c, master, port) for c in conns}
    barrier = threading.Barrier(copies)
    results: list[Exchange | None] = [None] * copies

    def send(i: int) -> None:
        barrier.wait()
        results[i] = run.twilio.request(path, params, conns[i])

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    results += [run.twilio.request(path, params) for _ in range(run.args.retry_sequential)]
    return [r for r in results if r is not None], len(owners - {None})

def retries(run: Run) -> Verdict:
    args = run.args
    verdict = Verdict("2 Twilio retries every step")
    problems = verdict.problems
    spread: list[int] = []
    rng = run.rng
    helpline, facility = run.sid("rtra"), run.sid("rtrb")
    caller = calls.caller_number(rng)

    def step(label: str, sid: str, path: str, params: dict, *, expect: int, legs: int,
             counted: int) -> str:
        """One step retried; checks the answers, the call's legs and the counted calls."""
        with run.session() as session:
            before = calls.counted_calls(session)
        exchanges, workers_used = _wave(run, path, params)
        spread.append(workers_used)
        bodies = {e.body for e in exchanges}
        statuses = {e.status for e in exchanges}
        if len(exchanges) != args.retry_copies + args.retry_sequential or statuses != {expect}:
            errors = sorted({e.error for e in exchanges if e.error})
            problems.append(f"{label}: statuses {sorted(map(str, statuses))}, expected "
                            f"{expect} {errors}")
        if len(bodies) != 1:
            problems.append(f"{label}: {len(bodies)} different answers to one step")
        if FALLBACK_TWIML in bodies:
            problems.append(f"{label}: a copy was answered by the static fallback")
        call = run.call(sid)
        with run.session() as session:
            after = calls.counted_calls(session)
        if call is None or len(call.attempts) != legs:
            problems.append(f"{label}: {call and len(call.attempts)} legs, expected {legs}")
        if after - before != counted:
            problems.append(f"{label}: counted calls changed by {after - before}, expected "
                            f"{counted}")
        return exchanges[0].body if exchanges else ""

    def need(found, what: str, answer: str):
        if found is None:
            raise RuntimeError(f"{what} missing from the answer {answer[:300]!r}; problems so "
                               f"far: {problems}")
        return found

    def status_params(sid: str, to: str) -> dict:
        return call_params(sid, caller, to, CallStatus="completed", CallDuration="90")

    # A helpline call: routed, the first advertiser does not answer, the second does.
    answer = step("helpline incoming", helpline, "/voice/incoming",
                  call_params(helpline, caller, calls.LINE), expect=200, legs=1, counted=1)
    first = need(dialled(answer), "the helpline's <Dial>", answer)
    answer = step("dial action, no answer: fail over", helpline, first[1],
                  dial_params(helpline, caller, calls.LINE, 1, "no-answer"),
                  expect=200, legs=2, counted=0)
    second = need(dialled(answer), "the failover <Dial>", answer)
    leg_callback = parse(answer).find("Dial").find("Number").get("statusCallback")
    step("leg status callback, answered", helpline, leg_callback,
         {"CallSid": f"{helpline[:-4]}L002", "ParentCallSid": helpline,
          "AccountSid": call_params(helpline, caller, calls.LINE)["AccountSid"],
          "CallStatus": "in-progress"}, expect=204, legs=2, counted=0)
    step("dial action, completed", helpline, second[1],
         dial_params(helpline, caller, calls.LINE, 2, "completed"), expect=200, legs=2,
         counted=0)
    step("call status callback", helpline, "/voice/status",
         status_params(helpline, calls.LINE), expect=204, legs=2, counted=0)
    # A facility call: the facility does not answer, the caller presses 1 (forwarded).
    answer = step("facility incoming", facility, "/voice/incoming",
                  call_params(facility, caller, calls.FACILITY_LINE), expect=200, legs=1,
                  counted=0)
    answer = step("facility dial action, no answer: the menu", facility,
                  need(dialled(answer), "the facility's <Dial>", answer)[1],
                  dial_params(facility, caller, calls.FACILITY_LINE, 1, "no-answer"),
                  expect=200, legs=1, counted=0)
    menu = need(parse(answer).find("Gather"), "the menu's <Gather>", answer).get("action")
    answer = step("gather: 1 forwards", facility, menu,
                  {**call_params(facility, caller, calls.FACILITY_LINE,
                                 CallStatus="in-progress"), "Digits": "1"},
                  expect=200, legs=2, counted=1)
    step("forwarded dial action, completed", facility,
         need(dialled(answer), "the forwarded <Dial>", answer)[1],
         dial_params(facility, caller, calls.FACILITY_LINE, 2, "completed"), expect=200,
         legs=2, counted=0)
    step("call status callback", facility, "/voice/status",
         status_params(facility, calls.FACILITY_LINE), expect=204, legs=2, counted=0)

    for sid in (helpline, facility):
        call = run.call(sid)
        if call is None or call.status != CallStatus.COMPLETED or any(
                a.status != AttemptStatus.COMPLETED for a in call.attempts[1:]):
            problems.append(f"{sid}: not closed with its last leg completed")
    with run.session() as session:
        problems += calls.consistency(session)
    verdict.figures = [
        f"10 steps of 2 calls, each sent {args.retry_copies} times at once (on "
        f"{min(spread)} to {max(spread)} workers) and {args.retry_sequential} times after",
        "same answer to every copy, one leg and one count per step" if not problems
        else f"{len(problems)} problems",
    ]
    return verdict
