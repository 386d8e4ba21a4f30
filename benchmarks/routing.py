"""Call-routing speed: the policy's decision time, and the voice webhooks under concurrent callers.

Three figures, each against a fictional pool of ten advertisers (555-01XX numbers) in three
tiers with mixed eligibility (an expired license, an inactive one, one without consent, one on
office hours, one overnight, states served that miss some callers, tight concurrent caps):

1. ``policy.decide`` in-process on snapshots, with varied callers, clocks and usage.
2. ``routing.route_helpline`` in-process against the database (the cached pool, usage, decide,
   reserve the caps, append the audit row, commit), per call.
3. The real app under gunicorn (``gunicorn -w 4 -k gthread --threads 8 wsgi:app``) on a database
   migrated by ``flask db upgrade``; client threads on loopback play whole calls, each request
   signed as Twilio signs it: ``/voice/incoming``, the ``<Dial action>`` (some no-answer, so
   calls fail over), then the call's status callback; back to back, then paced. Afterwards the
   database is checked: every call recorded and closed, no cap ever exceeded (the audit chain
   replayed), the chain intact.

Prints figures; it is not a test (it exits 1 when a check fails). The pool is in
``routing_pool.py``, the webhook part in ``routing_webhooks.py``; benchmarks/README.md explains.

    python benchmarks/routing.py                  # both engines, defaults (~2.5 min on 2 cores)
    python benchmarks/routing.py --engine postgresql --calls 1000 --concurrency 32
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import load_server, routing_pool  # noqa: E402
from benchmarks import routing_webhooks as webhooks  # noqa: E402
from benchmarks.routing_pool import (  # noqa: E402
    CALLER_AREA_CODES,
    advertisers_for_policy,
    caller_number,
)
from config import normalize_database_url  # noqa: E402
from finder import create_app  # noqa: E402
from finder.calls import audit, policy, routing  # noqa: E402
from finder.calls.caller import caller_state  # noqa: E402
from finder.calls.eligibility import EligibilityRules  # noqa: E402
from finder.calls.models import TrackingNumber  # noqa: E402
from finder.calls.pool import AdvertiserUsage  # noqa: E402
from finder.calls.routing import (  # noqa: E402
    RoutingSettings,
    finish_attempt,
    open_call,
    route_helpline,
)
from finder.calls.snapshots import snapshot  # noqa: E402
from finder.extensions import db  # noqa: E402

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_DATABASE = "finder_bench_routing"
DECISION_P95_MS = 2
WEBHOOK_P95_MS = 25
HASH_KEY = b"bench-routing-caller-hash-key"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--calls", type=int, default=600, help="timed webhook calls per engine")
    parser.add_argument("--concurrency", type=int, default=32, help="simultaneous callers")
    parser.add_argument("--decisions", type=int, default=10_000, help="timed policy decisions")
    parser.add_argument("--routes", type=int, default=200,
                        help="timed in-process route_helpline calls per engine")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--no-answer", type=float, default=0.2,
                        help="share of first legs that do not answer (the call fails over)")
    parser.add_argument("--think-ms", type=float, nargs="+", default=[0, 1000],
                        help="scenarios: each caller's mean pause before every webhook (0: back "
                             "to back, the saturation figure; 1000: paced, nearer real calls)")
    parser.add_argument("--paced-calls", type=int, default=400,
                        help="timed webhook calls per engine in each paced scenario")
    parser.add_argument("--time-limit", type=float, default=120,
                        help="seconds the callers of one engine may take at most")
    parser.add_argument("--postgres-url", default=POSTGRES_URL,
                        help=f"a PostgreSQL database to connect through; the benchmark creates "
                             f"and drops {POSTGRES_DATABASE} on its server")
    parser.add_argument("--history", type=int, default=0,
                        help="finished legs from months ago to add first (a database in use)")
    parser.add_argument("--lock-sample-ms", type=float, default=50,
                        help="PostgreSQL: sample the routing locks in pg_locks this often "
                             "during the webhook runs (0: not at all)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    # A TERM (a timeout, a CI cancel) unwinds like ^C, so the gunicorn server is always stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.stdout.reconfigure(line_buffering=True)  # progress shows up in logs and pipes too

    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    print(f"load average at start: {_load()}  ({os.cpu_count()} CPUs)")
    started = time.monotonic()
    summary = [decision_benchmark(args.decisions, args.seed)]
    failures = []
    for engine in engines:
        with bench_database(engine, args) as url:
            print(f"\n== {engine}: {sa.make_url(url).render_as_string()}")
            webhooks.migrate(url)
            routing_pool.build(url)
            if args.history:
                started_adding = time.perf_counter()
                routing_pool.add_history(url, args.history)
                print(f"  added {args.history:,} finished legs of history in "
                      f"{time.perf_counter() - started_adding:.1f} s")
            summary.append(route_benchmark(url, engine, args.routes, args.seed))
            results, problems = webhooks.run(url, engine, args)
            for result in results:
                summary.append(result.summary_line(WEBHOOK_P95_MS))
                failures += [f"{engine}: {problem}" for problem in result.problems]
            failures += [f"{engine}: {problem}" for problem in problems]
    print("\n== summary")
    for line in summary:
        print(line)
    print(f"\nload average at end: {_load()}  (whole run {time.monotonic() - started:.0f} s)")
    if failures:
        print("\nCHECKS FAILED:\n  " + "\n  ".join(failures))
        raise SystemExit(1)


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def percentiles(values) -> tuple[float, float, float]:
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def verdict(value: float, target: float) -> str:
    return f"p95 <= {target} ms: {'met' if value <= target else 'NOT MET'}"


# -- 1. the pure policy -----------------------------------------------------------------------

def decision_benchmark(count: int, seed: int) -> str:
    """``policy.decide`` over the ten-advertiser pool, with varied callers, clocks and usage."""
    rng = random.Random(seed)
    pool = [snapshot(advertiser) for advertiser in advertisers_for_policy()]
    rules = EligibilityRules(min_answer_rate=0.5)
    monday = datetime(2026, 11, 16, tzinfo=UTC)
    cases = []
    for _ in range(count + 200):
        state, signal = caller_state(caller_number(rng))
        usage = {a.id: AdvertiserUsage(
            calls_today=rng.randrange(0, 60), calls_this_month=rng.randrange(0, 900),
            live_legs=rng.randrange(0, 8),
            recent_answers=tuple(rng.random() < 0.8 for _ in range(20)))
            for a in pool if rng.random() < 0.9}
        tried = frozenset(a.id for a in pool if rng.random() < 0.05)
        previous = rng.choice([a.id for a in pool]) if rng.random() < 0.1 else None
        caller = policy.CallerContext(state, signal, previous, tried)
        now = monday + timedelta(minutes=rng.randrange(0, 7 * 24 * 60))
        cases.append((usage, caller, now))
    timings, rules_used = [], Counter()
    for n, (usage, caller, now) in enumerate(cases):
        started = time.perf_counter()
        decision = policy.decide(pool, usage, caller, now, rules)
        elapsed = (time.perf_counter() - started) * 1000
        if n >= 200:  # the first ones warm the zoneinfo cache
            timings.append(elapsed)
            rules_used[str(decision.rule)] += 1
    p50, p95, p99 = percentiles(timings)
    print(f"\n== policy.decide in-process: {len(timings)} decisions over {len(pool)} advertisers"
          f" (callers from {len(CALLER_AREA_CODES)} area codes, clocks across a week)")
    print(f"  rules: {dict(rules_used)}")
    print(f"  p50 {p50:.3f} ms  p95 {p95:.3f} ms  p99 {p99:.3f} ms  max {max(timings):.3f} ms")
    return (f"policy.decide                 p50 {p50:7.3f}  p95 {p95:7.3f}  p99 {p99:7.3f} ms"
            f"   {verdict(p95, DECISION_P95_MS)}")


# -- 2. route_helpline against the database ---------------------------------------------------

class Stopwatch:
    """Wraps module functions for the duration of a ``with``, summing the time spent in each."""

    def __init__(self, targets: dict[str, tuple[object, str]]) -> None:
        self.targets = targets
        self.spent: dict[str, list[float]] = {name: [] for name in targets}
        self.current: Counter = Counter()

    def __enter__(self):
        self.originals = {}
        for name, (module, attribute) in self.targets.items():
            original = getattr(module, attribute)
            self.originals[name] = original
            setattr(module, attribute, self._timed(name, original))
        return self

    def _timed(self, name, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.current[name] += (time.perf_counter() - started) * 1000
        return timed

    def lap(self) -> None:
        for name in self.targets:
            self.spent[name].append(self.current[name])
        self.current.clear()

    def __exit__(self, *exc) -> None:
        for name, (module, attribute) in self.targets.items():
            setattr(module, attribute, self.originals[name])


def route_benchmark(url: str, engine: str, count: int, seed: int) -> str:
    """Per call, as one webhook transaction: route_helpline (pool, usage, decide, reserve, audit
    append) and the commit. Each leg is then finished (a fifth fail over first), so concurrent
    caps do not fill up."""
    rng = random.Random(seed)
    settings = RoutingSettings()
    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": url})
    totals, outcomes = [], Counter()
    parts = {"usage_for": (routing, "usage_for"), "decide": (routing, "decide"),
             "reserve": (routing, "reserve"), "audit.append": (audit, "append"),
             "pool_for": (routing, "pool_for")}
    with app.app_context(), Stopwatch(parts) as watch:
        session = db.session
        helpline = session.execute(
            sa.select(TrackingNumber.number).where(TrackingNumber.kind == "helpline")).scalar_one()
        for n in range(count + 20):
            now = datetime.now(UTC)
            call = open_call(session, call_sid=f"CAroute{engine[:2]}{n:025d}", to_number=helpline,
                             from_number=caller_number(rng), twilio_from_state=None,
                             hash_key=HASH_KEY, now=now)
            watch.current.clear()
            started = time.perf_counter()
            # The cached pool (routing_config), as the webhook reads it.
            pool = routing.pool_for(session, call, None)
            leg = route_helpline(session, call, pool, now, settings)
            session.commit()
            elapsed = (time.perf_counter() - started) * 1000
            if n >= 20:
                totals.append(elapsed)
                watch.lap()
                outcomes[leg.attempt.destination_kind] += 1
            attempt = leg.attempt
            if rng.random() < 0.2 and attempt.destination_kind == "advertiser":
                finish_attempt(session, attempt, dial_call_status="no-answer", duration=None,
                               now=now)
                attempt = route_helpline(session, attempt.call, pool, now, settings,
                                         via="failover").attempt
                session.commit()
            finish_attempt(session, attempt, dial_call_status="completed", duration=30, now=now)
            session.commit()
        db.engine.dispose()
    p50, p95, p99 = percentiles(totals)
    print(f"\nroute_helpline + commit in-process, {len(totals)} calls: {dict(outcomes)}")
    print(f"  total              p50 {p50:7.3f}  p95 {p95:7.3f}  p99 {p99:7.3f} ms")
    for name, values in watch.spent.items():
        q50, q95, q99 = percentiles(values)
        print(f"  of which {name:17s} p50 {q50:6.3f}  p95 {q95:6.3f}  p99 {q99:6.3f} ms")
    return (f"route_helpline {engine:10s}    p50 {p50:7.3f}  p95 {p95:7.3f}  p99 {p99:7.3f} ms"
            f"   (no target: decide + reserve + audit append + commit)")


# -- databases --------------------------------------------------------------------------------

@contextmanager
def bench_database(engine: str, args):
    """A new, empty database of ``engine``, dropped afterwards unless ``--keep``."""
    if engine == "sqlite":
        directory = tempfile.mkdtemp(prefix="finder-bench-routing-")
        path = Path(directory) / "bench.sqlite3"
        try:
            yield f"sqlite:///{path}"
        finally:
            if args.keep:
                print(f"  kept {path}")
            else:
                for file in Path(directory).iterdir():
                    file.unlink()
                Path(directory).rmdir()
        return
    admin_url = normalize_database_url(args.postgres_url)
    url = sa.make_url(admin_url).set(database=POSTGRES_DATABASE).render_as_string(
        hide_password=False)
    drop = f'DROP DATABASE IF EXISTS "{POSTGRES_DATABASE}" WITH (FORCE)'
    load_server.admin(admin_url, drop, f'CREATE DATABASE "{POSTGRES_DATABASE}"')
    try:
        yield url
    finally:
        if args.keep:
            print(f"  kept {POSTGRES_DATABASE}")
        else:
            load_server.admin(admin_url, drop)


if __name__ == "__main__":
    main()
