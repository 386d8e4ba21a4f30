"""Faults 1 and 1b: the database stops (a crash, then a restart), and the database hangs."""

from __future__ import annotations

import time

from benchmarks import fault_calls as calls
from benchmarks.fault_run import Run, Verdict, ms, wait_for_routing, with_callers
from benchmarks.twilio_double import TWILIO_TIMEOUT, connects_to_samhsa
from finder.calls.twiml import FALLBACK_TWIML

#: While the database is down, a webhook must answer well within Twilio's 15 s.
DOWN_LATENCY_BOUND_MS = 5000


def database_stops(run: Run) -> Verdict:
    args = run.args
    verdict = Verdict(f"1 the database stops for {args.down_seconds:g} s during calls")
    before_workers = set(run.workers())
    marks: dict[str, float] = {}

    def outage() -> None:
        time.sleep(args.before_seconds)
        marks["stopping"] = time.monotonic()
        run.pg.stop("immediate")
        marks["down"] = time.monotonic()
        time.sleep(args.down_seconds)
        marks["starting"] = time.monotonic()
        run.pg.start()
        marks["up"] = time.monotonic()
        marks["resumed"] = wait_for_routing(run, marks["up"], timeout=30)
        time.sleep(args.after_seconds)

    played = with_callers(run, "dbdn", args.db_callers, args.db_pause, 1000, outage)
    stopping, down, starting, up = (marks[k] for k in ("stopping", "down", "starting", "up"))
    start_seconds, resumed = up - starting, marks["resumed"]
    exchanges = [e for call in played for e in call.exchanges]
    while_down = [e for e in exchanges if e.sent >= down and e.done <= starting]
    voice_down = [e for e in while_down if e.endpoint != "status"]
    problems = verdict.problems
    if not voice_down:
        problems.append("no webhook was answered while the database was down")
    for exchange in while_down:
        if exchange.failed:
            problems.append(f"/voice/{exchange.endpoint} while down: {exchange.status} "
                            f"{exchange.error}")
        elif exchange.endpoint != "status" and not connects_to_samhsa(exchange.body):
            problems.append(f"/voice/{exchange.endpoint} while down did not dial SAMHSA: "
                            f"{exchange.body[:120]}")
    down_ms = [e.ms for e in while_down]
    if down_ms and max(down_ms) > DOWN_LATENCY_BOUND_MS:
        problems.append(f"a webhook took {max(down_ms):.0f} ms while the database was down")
    if resumed is None:
        problems.append("routing did not resume within 30 s of the database's return")
    after = [call for call in played
             if resumed is not None and call.exchanges[0].sent >= up + resumed]
    not_routed = [c.sid for c in after if not c.destinations or c.fell_back]
    if not_routed:
        problems.append(f"{len(not_routed)} calls after the return were not routed to an "
                        f"advertiser: {not_routed[:3]}")
    if set(run.workers()) != before_workers:
        problems.append("gunicorn's workers changed: the outage restarted some")
    # Calls that reached finder only while it was down were spooled; the workers record them
    # every 15 s, a drain now (as an operator or a timer would) records what is left.
    drained = run.server.flask("routing", "drain-spool")
    if drained.returncode:
        problems.append(f"flask routing drain-spool failed: {drained.stderr[-300:]}")
    checked, fared = calls.check_played(run.pg.url, played)
    problems += checked
    if fared["fallback and not recorded"]:
        problems.append(f"{fared['fallback and not recorded']} calls answered while the "
                        f"database was down were never recorded (the spool lost them)")
    from_spool = calls.recorded_from_spool(run.pg.url)
    statuses = sorted({str(e.status) for e in exchanges} | {
        str(e.fallback.status) for e in exchanges if e.fallback is not None})
    verdict.figures = [
        f"{len(voice_down)} voice webhooks (and {len(while_down) - len(voice_down)} status "
        f"callbacks) answered while down, every voice answer TwiML dialling SAMHSA, "
        f"latency {ms(down_ms)}",
        f"HTTP statuses Twilio saw in the whole run: {', '.join(statuses)}; every webhook of "
        f"the run (stop and start included): {ms([e.ms for e in exchanges])}",
        f"stop took {down - stopping:.2f} s, start {start_seconds:.1f} s; routing resumed "
        f"{resumed:.2f} s after the database accepted connections" if resumed is not None
        else "routing did not resume",
        f"{len(after)} calls after that, all routed to advertisers and recorded, same "
        f"{len(before_workers)} gunicorn workers",
        f"{fared['played']} calls in all: {from_spool} reached finder only while it was down "
        f"(answered, spooled, then recorded from the spool: "
        f"{drained.stdout.strip() or 'nothing left for the final drain'}), "
        f"{fared['status callback unanswered']} whose status callback came while it was "
        f"down",
    ]
    return verdict

def database_hangs(run: Run) -> Verdict:
    args = run.args
    verdict = Verdict(f"1b the database hangs for {args.hang_seconds:g} s (every PostgreSQL "
                      f"process stopped: connections open, nothing answers)")
    before_workers = set(run.workers())
    marks: dict[str, float] = {}

    def hang() -> None:
        time.sleep(args.before_seconds)
        marks["frozen"] = time.monotonic()
        run.pg.freeze()
        try:
            time.sleep(args.hang_seconds)
        finally:
            run.pg.thaw()
        marks["thawed"] = time.monotonic()
        marks["resumed"] = wait_for_routing(run, marks["thawed"], timeout=30)
        time.sleep(args.after_seconds)

    played = with_callers(run, "hang", args.hang_callers, args.db_pause, 2000, hang)
    frozen, thawed, resumed = marks["frozen"], marks["thawed"], marks["resumed"]
    exchanges = [e for call in played for e in call.exchanges]
    during = [e for e in exchanges if e.endpoint != "status" and frozen <= e.sent < thawed]
    problems = verdict.problems
    waits = []
    for exchange in during:
        heard = exchange.fallback or exchange
        waits.append((heard.done - exchange.sent) * 1000)
        if heard.done < thawed and not connects_to_samhsa(heard.body):
            problems.append(f"/voice/{exchange.endpoint} answered while the database hung "
                            f"without dialling SAMHSA: {heard.body[:120]}")
    if waits and max(waits) > (TWILIO_TIMEOUT + 2) * 1000:
        problems.append(f"a caller waited {max(waits):.0f} ms for an answer")
    timed_out = [e for e in during if e.status is None]
    connect_fallback = [e for e in during if e.status == 200 and e.body == FALLBACK_TWIML]
    late = [e for e in during if not e.failed and e.body != FALLBACK_TWIML]
    if resumed is None:
        problems.append("routing did not resume within 30 s of the database's return")
    if set(run.workers()) != before_workers:
        problems.append("gunicorn's workers changed: the hang restarted some")
    checked, fared = calls.check_played(run.pg.url, played)
    problems += checked
    verdict.figures = [
        f"{len(during)} voice webhooks sent while it hung: {len(timed_out)} got no answer "
        f"within Twilio's {TWILIO_TIMEOUT:g} s and the fallback URL answered SAMHSA, "
        f"{len(connect_fallback)} answered SAMHSA by the app (a new connection timed out), "
        f"{len(late)} answered once it was back; callers waited {ms(waits)}",
        f"routing resumed {resumed:.2f} s after it was back, same gunicorn workers"
        if resumed is not None else "routing did not resume",
        f"{fared['played']} calls: {fared['an extra leg from a lost answer']} with a leg routed "
        f"after Twilio had given up, {fared['counted, never rung']} of them still counted",
    ]
    return verdict
