"""The fault run's shared parts: the server, the run's handles, verdicts, callers at work.

``benchmarks/faults.py`` runs the faults; each lives in its own module (``fault_workers.py``,
``fault_retries.py``, ``fault_database.py``) and returns a ``Verdict``: figures, and problems
(none: PASS).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from benchmarks import fault_calls as calls
from benchmarks.private_postgres import PrivateCluster
from benchmarks.routing_webhooks import Server
from benchmarks.twilio_double import (
    Twilio,
    call_params,
    connects_to_samhsa,
    dialled,
    workers,
)
from finder.calls.models import Call
from finder.calls.twiml import FALLBACK_TWIML

#: A leg rings this long (and expires 60 s later): short, so an open leg expires within the run.
RING_SECONDS = 5


class PatientServer(Server):
    """The benchmark's gunicorn, given longer to start (on a shared, loaded machine four workers
    importing the app can take more than 30 s) and ``--keep-alive 30``: gunicorn closes a new
    connection that sends nothing for that long, and a connection placed on a chosen worker
    waits for the others to be placed before its request goes."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.command[-1:-1] = ["--keep-alive", "30"]

    def _wait_until_ready(self, timeout: float = 120) -> None:
        super()._wait_until_ready(timeout)

@dataclass
class Verdict:
    fault: str
    figures: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{'PASS' if not self.problems else 'FAIL'}  {self.fault}: " \
               + "; ".join(self.figures)

    def report(self) -> None:
        print(self.line())
        for problem in self.problems[:12]:
            print(f"      problem: {problem}")
        if len(self.problems) > 12:
            print(f"      ... and {len(self.problems) - 12} more")

@dataclass
class Stranded:
    """A leg whose dial action died with a worker and whose status callback was lost."""

    call_sid: str
    attempt_id: int
    routed_at: datetime
    expires_at: datetime

class Run:
    """What every fault uses: the cluster, the server, the Twilio stand-in, a database handle."""

    def __init__(self, pg: PrivateCluster, server: PatientServer, args) -> None:
        self.pg, self.server, self.args = pg, server, args
        self.twilio = Twilio(server.port, server.token)
        # The checks' own engine: pre-ping, since the cluster restarts under it.
        self.engine = sa.create_engine(pg.url, pool_pre_ping=True)
        self.rng = random.Random(args.seed)
        self._serial = itertools.count(1)

    def sid(self, tag: str) -> str:
        return f"CA{tag}{next(self._serial):0{32 - len(tag)}d}"

    def workers(self) -> list[int]:
        return workers(self.server.process.pid)

    def session(self) -> Session:
        return Session(self.engine)

    def call(self, call_sid: str) -> Call | None:
        with self.session() as session:
            call = session.execute(sa.select(Call).where(Call.call_sid == call_sid)).scalar()
            if call is not None:
                call.attempts  # noqa: B018 - loaded before the session closes
            return call

    def wait_for_workers(self, gone: set[int], timeout: float = 30) -> float | None:
        """Seconds until gunicorn again runs all its workers, none of ``gone``; None: never."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            current = self.workers()
            if len(current) == self.args.workers and not gone & set(current):
                return time.monotonic() - started
            time.sleep(0.02)
        return None

def ms(values: list[float]) -> str:
    if not values:
        return "none"
    p50, p95 = np.percentile(values, [50, 95])
    return f"p50 {p50:.0f} / p95 {p95:.0f} / max {max(values):.0f} ms"

def dial_params(call_sid: str, caller: str, to: str, leg: int, status: str) -> dict:
    answered = status == "completed"
    return call_params(call_sid, caller, to, CallStatus="in-progress",
                       DialCallSid=f"{call_sid[:-4]}L{leg:03d}", DialCallStatus=status,
                       DialCallDuration="47" if answered else "0")

def finish(run: Run, call_sid: str, caller: str, to: str, answer: str) -> None:
    """Twilio goes on with a routed call: its leg answered and completed, then the call ended."""
    dial = dialled(answer)
    if dial is not None and dial[1]:
        run.twilio.webhook(dial[1], dial_params(call_sid, caller, to, 1, "completed"))
    run.twilio.request("/voice/status", call_params(call_sid, caller, to,
                                                    CallStatus="completed", CallDuration="60"))

def with_callers(run: Run, tag: str, count: int, pause: float, seed: int,
                  action) -> list[calls.PlayedCall]:
    """``count`` callers play helpline calls back to back (pausing ``pause`` s on average
    before each request) while ``action`` runs; every call they played."""
    stop = threading.Event()
    played: list[calls.PlayedCall] = []
    guard = threading.Lock()

    def caller(n: int) -> None:
        rng = random.Random(run.args.seed * seed + n)
        pauses = calls.pause_for(rng, pause)
        while not stop.is_set():
            call = calls.play(run.twilio, run.sid(tag), calls.caller_number(rng), calls.LINE,
                              no_answer=rng.random() < 0.2, pause=pauses)
            with guard:
                played.append(call)

    threads = [threading.Thread(target=caller, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    try:
        action()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    return played

def wait_for_routing(run: Run, since: float, timeout: float) -> float | None:
    """Seconds from ``since`` until a call started after it was routed to an advertiser."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for exchange in list(run.twilio.exchanges):
            if exchange.endpoint == "incoming" and exchange.sent >= since \
                    and not exchange.failed and exchange.body != FALLBACK_TWIML \
                    and dialled(exchange.body) and not connects_to_samhsa(exchange.body):
                return exchange.done - since
        time.sleep(0.05)
    return None
