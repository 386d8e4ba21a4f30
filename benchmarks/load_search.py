"""Load: searches by many visitors at once against gunicorn, on the national data.

``gunicorn -w 4 -k gthread --threads 8`` (production settings, ``deploy/gunicorn.conf.py``)
serves a database seeded with the national directory: by default a throwaway PostgreSQL
database made by ``flask db upgrade`` and ``flask seed`` (kept and reused with ``--keep``), or
SQLite (``--engine sqlite``: a throwaway file seeded the same way), or any seeded database
(``--database-url``). 32 client threads on loopback, each with one kept-alive connection, send
requests back to back for a fixed time: the search results page and the JSON API
(``/api/v1/facilities``), from random real ZIP codes and "City, ST" names (those the gazetteer
resolves), a share with service filters, random radii and pages; and a few requests the app
must refuse with 400 (a radius the page does not offer, an API radius of 0). Prints requests per
second and p50/p95/p99 per kind; exits 1 on any unexpected status (anything but 2xx, or the
intended 400).

    python benchmarks/load_search.py                       # PostgreSQL, 32 clients, 60 s
    python benchmarks/load_search.py --engine sqlite --duration 30
    python benchmarks/load_search.py --keep                # keep finder_load_search for next time
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import sys
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import latency, load_server  # noqa: E402
from benchmarks import routing_webhooks as webhooks  # noqa: E402
from config import normalize_database_url  # noqa: E402
from finder import create_app  # noqa: E402
from finder.extensions import db  # noqa: E402
from finder.geo.place import PlaceNotFound, locate  # noqa: E402

DATABASE = "finder_load_search"
KINDS = ("search page", "search page + filters", "API", "API + filters", "intended 400")
PAGE_RADII = (5, 10, 25, 50, 100)
REQUEST_TIMEOUT = 60
#: Seconds the whole run may take beyond the timed part (database, server, checks).
WHOLE_RUN_MARGIN = 600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--database-url",
                        help="a database seeded with the national data to use as it is")
    parser.add_argument("--postgres-server", default=load_server.POSTGRES_SERVER,
                        help=f"a database URL of the server where {DATABASE} is created")
    parser.add_argument("--clients", type=int, default=32, help="concurrent client threads")
    parser.add_argument("--duration", type=float, default=60, help="seconds of timed load")
    parser.add_argument("--warm-up", type=float, default=5, help="seconds of untimed load first")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--api-share", type=float, default=0.5,
                        help="share of requests to the API (the rest: the results page)")
    parser.add_argument("--filter-share", type=float, default=0.4,
                        help="share of searches with one or two service filters")
    parser.add_argument("--bad-share", type=float, default=0.03,
                        help="share of requests the app must refuse with 400")
    parser.add_argument("--development", action="store_true",
                        help="FINDER_ENV=development and gunicorn's default logging")
    parser.add_argument("--keep", action="store_true",
                        help=f"keep {DATABASE} (and reuse it next time) and the server's logs")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds: the server is stopped
    # The whole run is bounded too (setting up, seeding, checks): past it, unwind and fail.
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("the whole run took too long"))
    signal.alarm(int(WHOLE_RUN_MARGIN + args.duration + args.warm_up))
    sys.stdout.reconfigure(line_buffering=True)

    print(f"load average at start: {latency.load_average()}")
    started = time.monotonic()
    with (seeded_database(args) as url,
          load_server.log_directory(args.keep, "finder-load-search-logs-") as log_dir):
        failures = run(url, log_dir, args)
    print(f"\nload average at end: {latency.load_average()}  "
          f"(whole run {time.monotonic() - started:.0f} s)")
    if failures:
        print(f"\nCHECKS FAILED ({len(failures)}):\n  " + "\n  ".join(failures[:30]))
        raise SystemExit(1)
    print("\nall checks passed")


@contextmanager
def seeded_database(args):
    """The national data: ``--database-url``; ``finder_load_search`` when kept from an earlier
    run; else a throwaway database seeded now (``flask db upgrade`` and ``flask seed``)."""
    if args.database_url:
        yield normalize_database_url(args.database_url)
        return
    if args.engine == "postgresql" and args.keep:
        url = load_server.postgres_url(args.postgres_server, DATABASE)
        if facilities(url):
            print(f"  reusing {DATABASE} (kept by an earlier --keep run; drop it with "
                  f"`dropdb -h 127.0.0.1 -U postgres {DATABASE}` to start afresh)")
            yield url
            return
    with load_server.throwaway_database(args.engine, args.postgres_server, DATABASE,
                                        args.keep) as url:
        webhooks.migrate(url)
        seed(url)
        yield url


def seed(url: str) -> None:
    started = time.perf_counter()
    done = webhooks.flask({**os.environ, "DATABASE_URL": url}, "seed", "--quiet", timeout=900)
    if done.returncode:
        raise SystemExit(f"flask seed failed:\n{done.stdout}{done.stderr}")
    if url.startswith("postgresql"):
        # What autovacuum does within a minute of the seeding: statistics and visibility map.
        load_server.admin(url, "VACUUM ANALYZE")
    print(f"  seeded with flask seed in {time.perf_counter() - started:.1f} s "
          f"({facilities(url):,} facilities)")


def facilities(url: str) -> int:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM facility")).scalar_one()
    except sa.exc.SQLAlchemyError:
        return 0
    finally:
        engine.dispose()


# -- what visitors ask ------------------------------------------------------------------------

@dataclass(frozen=True)
class Places:
    zips: list[str]
    cities: list[str]  #: "City, ST"
    services: list[str]  #: the most offered service codes


def places(url: str, rng: random.Random, count: int = 300) -> Places:
    """Random real ZIPs and cities that the gazetteer resolves, and the common service codes."""
    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        session = db.session
        rows = session.execute(sa.text(
            "SELECT zip, city, state FROM zip_code WHERE zip_type <> 'MILITARY' ORDER BY zip"
        )).all()
        services = list(session.execute(sa.text(
            "SELECT service_code FROM facility_service GROUP BY service_code "
            "ORDER BY count(*) DESC, service_code LIMIT 15")).scalars())
        sample = rng.sample(rows, min(len(rows), 2 * count))
        zips, cities = [], []
        for zip_code, city, state in sample:
            for text, kept in ((zip_code, zips), (f"{city.title()}, {state}", cities)):
                if len(kept) >= count:
                    continue
                try:
                    locate(text)
                except PlaceNotFound:
                    continue
                kept.append(text)
        db.engine.dispose()
    return Places(zips, cities, services)


def request_for(rng: random.Random, where: Places, args) -> tuple[str, str, int]:
    """(kind, path, the status it must get) for one random visitor request."""
    api = rng.random() < args.api_share
    location = rng.choice(where.zips if rng.random() < 0.6 else where.cities)
    if rng.random() < args.bad_share:
        if api:
            return "intended 400", "/api/v1/facilities?" + urlencode(
                {"location": location, "radius": 0}), 400
        return "intended 400", "/search?" + urlencode({"location": location, "radius": 7}), 400
    filtered = rng.random() < args.filter_share
    params: list[tuple[str, object]] = [("location", location)]
    services = rng.sample(where.services, rng.choice((1, 2))) if filtered else []
    if api:
        params += [("radius", rng.choice((10, 25, 50, 100, 200))),
                   ("per_page", rng.choice((10, 25, 50))), ("page", rng.choice((1, 1, 1, 2)))]
        params += [("service", code) for code in services]
        return ("API + filters" if filtered else "API"), "/api/v1/facilities?" + urlencode(
            params), 200
    params += [("radius", rng.choice(PAGE_RADII)), ("page", rng.choice((1, 1, 1, 2)))]
    params += [("service", code) for code in services]
    return ("search page + filters" if filtered else "search page"), "/search?" + urlencode(
        params), 200


# -- the clients ------------------------------------------------------------------------------

@dataclass
class Tally:
    timings: dict[str, list[float]]
    statuses: Counter
    problems: list[str]


def clients(port: int, where: Places, args, seconds: float, seed: int) -> tuple[Tally, float]:
    """``args.clients`` threads, back to back for ``seconds``; returns what they saw and the
    seconds they actually ran."""
    stop = time.monotonic() + seconds
    guard = threading.Lock()
    tally = Tally(defaultdict(list), Counter(), [])

    def work(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        timings, statuses, problems = defaultdict(list), Counter(), []
        try:
            while time.monotonic() < stop:
                kind, path, expected = request_for(rng, where, args)
                started = time.perf_counter()
                try:
                    conn.request("GET", path)
                    response = conn.getresponse()
                    body = response.read()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    conn.close()  # a kept-alive connection the server closed meanwhile
                    continue
                timings[kind].append((time.perf_counter() - started) * 1000)
                statuses[(kind, response.status)] += 1
                problem = check(kind, path, expected, response.status, body)
                if problem:
                    problems.append(problem)
        except Exception as exc:  # noqa: BLE001 - reported; the other clients go on
            problems.append(f"client {n}: {exc!r}")
        finally:
            conn.close()
            with guard:
                for kind, values in timings.items():
                    tally.timings[kind] += values
                tally.statuses.update(statuses)
                tally.problems += problems

    threads = [threading.Thread(target=work, args=(n,), daemon=True)
               for n in range(args.clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT + 10)
    return tally, time.perf_counter() - started


def check(kind: str, path: str, expected: int, status: int, body: bytes) -> str | None:
    """None when the answer is what a visitor should get; otherwise what is wrong."""
    if expected == 400:
        return None if status == 400 else f"{path}: HTTP {status}, 400 expected"
    if not 200 <= status < 300:
        return f"{path}: HTTP {status}"
    if kind.startswith("API"):
        try:
            document = json.loads(body)
        except ValueError:
            return f"{path}: not JSON"
        if "total" not in document or "facilities" not in document:
            return f"{path}: JSON without total/facilities"
    elif b"</html>" not in body:
        return f"{path}: not a whole HTML page"
    return None


# -- the run ----------------------------------------------------------------------------------

def run(url: str, log_dir: Path, args) -> list[str]:
    rng = random.Random(args.seed)
    print(f"\n== {sa.make_url(url).render_as_string()}: {facilities(url):,} facilities")
    where = places(url, rng)
    print(f"  {len(where.zips)} ZIPs and {len(where.cities)} cities the gazetteer resolves; "
          f"filters from the {len(where.services)} most offered services")
    env = load_server.environment(args.development)
    config = load_server.gunicorn_config(args.development)
    with webhooks.Server(url, args.workers, args.threads, config=config, env=env,
                         log_dir=log_dir) as server:
        print(f"  gunicorn -w {args.workers} -k gthread --threads {args.threads} on port "
              f"{server.port}" + (f" with --config {config.relative_to(ROOT)}" if config else "")
              + f", FINDER_ENV={env['FINDER_ENV']}; {args.clients} clients back to back")
        if args.warm_up:
            clients(server.port, where, args, args.warm_up, args.seed + 1)
        cpu = server.cpu_seconds(), _database_cpu(url)
        tally, seconds = clients(server.port, where, args, args.duration, args.seed)
        requests = sum(len(values) for values in tally.timings.values())
        app_cpu = (server.cpu_seconds() - cpu[0]) * 1000 / max(requests, 1)
        database_cpu = (_database_cpu(url) - cpu[1]) * 1000 / max(requests, 1)
        server_errors = server.errors()
    report(tally, seconds)
    print(f"  CPU per request: {app_cpu:.1f} ms in gunicorn's workers"
          + (f", {database_cpu:.1f} ms in PostgreSQL's backends"
             if url.startswith("postgresql") else " (SQLite's work included)"))
    for line, count in server_errors.most_common(5):
        print(f"  gunicorn logged {count} x {line}")
    failures = list(tally.problems)
    if not requests:
        failures.append("no request was answered")
    failures += [f"the server logged {count} x {line}" for line, count in server_errors.items()]
    return failures


def report(tally: Tally, seconds: float) -> None:
    requests = sum(len(values) for values in tally.timings.values())
    print(f"  {requests:,} requests in {seconds:.1f} s: {requests / seconds:.1f} requests/s")
    ordered = {kind: tally.timings.get(kind, []) for kind in KINDS}
    for kind, values in ordered.items():
        if values:
            print(f"    {kind:22s} {len(values) / seconds:6.1f} requests/s")
    pages = ordered["search page"] + ordered["search page + filters"]
    api = ordered["API"] + ordered["API + filters"]
    for line in latency.table({**ordered, "all search pages": pages, "all API": api},
                              overall=False):
        print(f"  {line}")
    statuses = Counter()
    for (_kind, status), count in tally.statuses.items():
        statuses[status] += count
    print("  statuses: " + ", ".join(f"{status} x {count}"
                                     for status, count in sorted(statuses.items()))
          + f"; {len(tally.problems)} unexpected")


def _database_cpu(url: str) -> float:
    return webhooks._postgres_cpu(url) if url.startswith("postgresql") else 0.0


if __name__ == "__main__":
    main()
