"""Fault run: the voice webhooks under gunicorn while parts of the system fail.

Against ``gunicorn -w 4 -k gthread --threads 8 wsgi:app`` on a private PostgreSQL 15 cluster
(``private_postgres.py``: the machine's shared server is never touched), with a Twilio stand-in
(``twilio_double.py``) that signs every request and, when a voice webhook fails or takes over
15 s, requests the fallback URL, as Twilio does. Run in this order:

- **3a A worker is killed mid-call.** Three requests wait inside one worker (two calls' dial
  actions, a new call's first webhook) and a fourth inside another; the first worker gets
  SIGKILL. The three get the static SAMHSA answer from ``/voice/fallback``, gunicorn replaces the
  worker, nothing the killed steps did is kept, the fourth is routed. One of those calls' leg is
  left open (its status callback lost too): it holds its advertiser's only slot.
- **3b Workers are killed at random** while 8 callers play calls: whatever reached the app is
  recorded once, nothing is counted twice, the counters equal the legs that count.
- **2 Twilio retries a webhook.** Every step of two calls (a helpline call that fails over, a
  facility call whose caller presses 1) is sent 6 times at once on fresh connections spread over
  the workers, then 3 times more: the same answer every time, one leg and one count per step.
- **1 The database stops** (``pg_ctl stop -m immediate``, like a crash) while callers play
  calls, and starts again seconds later: while it is down every voice webhook is answered at
  once with TwiML that dials the SAMHSA helpline, no 5xx reaches Twilio, and routing resumes in
  the same gunicorn workers.
- **1b The database hangs** (every PostgreSQL process stopped with SIGSTOP for 17 s): callers
  get SAMHSA from the app or, after Twilio's 15 s, from the fallback URL; routing resumes.
- **3c The open leg from 3a expires** (``CALL_RING_SECONDS`` 5, so 65 s after it was routed): a
  new call gets its advertiser again, and a later webhook marks it expired.

Prints one PASS/FAIL line per fault with its figures; exits 1 when any fails. Loopback only,
bounded in time (``--time-limit``); gunicorn and the cluster are stopped on any exit.

    python benchmarks/faults.py                  # 2 to 3 minutes
    python benchmarks/faults.py --only 2 log     # one fault (and the server log check)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import fault_calls as calls  # noqa: E402
from benchmarks.fault_database import database_hangs, database_stops  # noqa: E402
from benchmarks.fault_retries import retries  # noqa: E402
from benchmarks.fault_run import RING_SECONDS, PatientServer, Run, Stranded, Verdict  # noqa: E402
from benchmarks.fault_workers import (  # noqa: E402
    kill_mid_call,
    kills_under_load,
    open_leg_expires,
)
from benchmarks.private_postgres import PrivateCluster  # noqa: E402
from benchmarks.routing_webhooks import migrate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--down-seconds", type=float, default=6)
    parser.add_argument("--before-seconds", type=float, default=3)
    parser.add_argument("--after-seconds", type=float, default=4)
    parser.add_argument("--hang-seconds", type=float, default=17,
                        help="how long every PostgreSQL process is stopped (SIGSTOP), fault 1b")
    parser.add_argument("--hang-callers", type=int, default=12,
                        help="callers in fault 1b (most of them wait on the database)")
    parser.add_argument("--db-callers", type=int, default=6)
    parser.add_argument("--db-pause", type=float, default=0.15,
                        help="mean pause (s) before each request of a call, fault 1")
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--kill-callers", type=int, default=8)
    parser.add_argument("--kill-seconds", type=float, default=8)
    parser.add_argument("--kill-pause", type=float, default=0.05)
    parser.add_argument("--retry-copies", type=int, default=6)
    parser.add_argument("--retry-sequential", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=420)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="+", default=["3a", "3b", "2", "1", "1b", "3c", "log"],
                        choices=["3a", "3b", "2", "1", "1b", "3c", "log"],
                        help="run these faults only (3c needs 3a, which it runs)")
    args = parser.parse_args()

    def out_of_time(*_):
        raise TimeoutError(f"the fault run took longer than {args.time_limit:g} s")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # ^C even when started in background
    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(int(args.time_limit))
    started = time.monotonic()
    verdicts: list[Verdict] = []
    with PrivateCluster() as pg:
        print(f"private PostgreSQL cluster on 127.0.0.1:{pg.port} ({pg.directory})")
        migrate(pg.url)
        calls.build(pg.url)
        env = {"CALL_RING_SECONDS": str(RING_SECONDS), "FORWARD_POOL": calls.POOL}
        with PatientServer(pg.url, args.workers, args.threads, env=env) as server:
            print(f"gunicorn -w {args.workers} -k gthread --threads {args.threads} on port "
                  f"{server.port}, CALL_RING_SECONDS={RING_SECONDS}; load average "
                  f"{os.getloadavg()[0]:.2f}")
            run = Run(pg, server, args)
            try:
                stranded: list[Stranded | None] = [None]

                def first() -> Verdict:
                    verdict, stranded[0] = kill_mid_call(run)
                    return verdict

                faults = (
                    ("3a", "3a worker killed mid-call", first),
                    ("3b", "3b workers killed under load", lambda: kills_under_load(run)),
                    ("2", "2 Twilio retries", lambda: retries(run)),
                    ("1", "1 the database stops", lambda: database_stops(run)),
                    ("1b", "1b the database hangs", lambda: database_hangs(run)),
                    ("3c", "3c the open leg expires", lambda: open_leg_expires(run, stranded[0])),
                    ("log", "gunicorn's log", lambda: _server_log(server)))
                for key, name, fault in faults:
                    if key not in args.only and not (key == "3a" and "3c" in args.only):
                        continue
                    verdict = _attempt(name, fault)
                    verdict.report()
                    verdicts.append(verdict)
            finally:
                run.engine.dispose()
    signal.alarm(0)
    print(f"\n{len(verdicts)} checks in {time.monotonic() - started:.0f} s "
          f"(load average {os.getloadavg()[0]:.2f}):")
    for verdict in verdicts:
        print("  " + verdict.line()[:160])
    sys.exit(1 if any(v.problems for v in verdicts) else 0)

def _attempt(name: str, fault) -> Verdict:
    """Run one fault; an exception in the run itself is that fault's failure, and the run
    goes on to the next (the server and the cluster are cleaned up either way)."""
    try:
        return fault()
    except (TimeoutError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - reported as the fault's FAIL line
        return Verdict(name, ["the run itself failed"],
                       [f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"])

def _server_log(server: PatientServer) -> Verdict:
    """No request ended in an unhandled exception (Flask's 'Exception on ...': a 500)."""
    text = server.log_text()
    unhandled = [line for line in text.splitlines() if "Exception on /" in line]
    fallbacks = sum("answered the SAMHSA fallback" in line for line in text.splitlines())
    verdict = Verdict("gunicorn's log", [f"{len(unhandled)} unhandled exceptions, {fallbacks} "
                                         f"webhook steps logged as answered by the fallback"])
    verdict.problems = [line[:200] for line in unhandled]
    return verdict


if __name__ == "__main__":
    main()
