"""Search speed, server-side and in-process: geocode a ZIP, search, load the page's facilities.

The query is the common one: the 25 nearest facilities within 50 miles offering one service, from
random real ZIP codes. Each figure is compared with a numpy brute-force scan of the same points
(vectorized haversine over every facility, the same filters, argpartition), the floor of what any
search over these rows could cost in Python. Prints figures; it is not a test.

    python benchmarks/search.py                      # both engines, national and 1M
    python benchmarks/search.py --engine sqlite --size national --queries 500
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from flask_migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import synthetic  # noqa: E402
from config import INSTANCE_DIR, normalize_database_url  # noqa: E402
from finder import create_app  # noqa: E402
from finder.directory.search import SearchQuery, search  # noqa: E402
from finder.extensions import db  # noqa: E402
from finder.geo.distance import EARTH_RADIUS_MILES  # noqa: E402
from finder.geo.place import PlaceNotFound, locate  # noqa: E402

DATA_DIR = ROOT / "benchmarks" / "data"
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"
RADIUS_MILES = 50
PER_PAGE = 25
MILLION = 1_000_000
WARM_UP = 20
#: (p50, p95) targets in ms per (size, engine); None: no target.
TARGETS = {
    ("national", "sqlite"): (5, 15),
    ("national", "postgresql"): (5, 15),
    ("1m", "sqlite"): (None, 50),
    ("1m", "postgresql"): (None, 30),
}


@dataclass
class Timings:
    total: list[float]
    geocode: list[float]
    floor: list[float]
    empty: int
    mismatched: int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--size", choices=["national", "1m", "both"], default="both")
    parser.add_argument("--queries", type=int, default=300, help="timed searches per database")
    parser.add_argument("--database-url", help="the seeded national database of its engine")
    parser.add_argument("--postgres-server", default=POSTGRES_SERVER,
                        help="PostgreSQL server for the benchmark's own databases")
    parser.add_argument("--service", default="OTP", help="the filter service code")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the 1M databases")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the ZIP sample")
    args = parser.parse_args()

    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    sizes = ["national", "1m"] if args.size == "both" else [args.size]
    print(f"{args.queries} searches per database: {PER_PAGE} nearest within {RADIUS_MILES} miles"
          f" offering {args.service}, from random real ZIPs; times in ms")
    rows = []
    for size in sizes:
        for engine in engines:
            national = national_url(engine, args)
            url = national if size == "national" else million_url(engine, national, args)
            timings = measure(url, args.service, args.queries, args.seed)
            rows.append((size, engine, timings))
            report(size, engine, timings)
    print()
    print(summary(rows))


def national_url(engine: str, args) -> str:
    given = normalize_database_url(args.database_url) if args.database_url else None
    if given and sa.make_url(given).get_backend_name() == engine:
        return given
    if engine == "sqlite":
        path = INSTANCE_DIR / "finder.sqlite3"
        if not _has_facilities(f"sqlite:///{path}"):
            raise SystemExit(f"{path} is not seeded: run `make seed` first")
        return f"sqlite:///{path}"
    url = args.postgres_server + "finder_bench_national"
    if not _has_facilities(url):
        print("  creating and seeding finder_bench_national (flask db upgrade && flask seed)")
        _drop_postgres_database(url)
        _create_postgres_database(url)
        app = create_app("development", {"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            upgrade()
            result = app.test_cli_runner().invoke(args=["seed", "--quiet"])
            if result.exit_code:
                raise SystemExit(result.output)
            db.engine.dispose()
    return url


def million_url(engine: str, national: str, args) -> str:
    """The cached synthetic million, built (a few minutes) when missing or out of date."""
    if engine == "sqlite":
        DATA_DIR.mkdir(exist_ok=True)
        url = f"sqlite:///{DATA_DIR / 'finder_1m.sqlite3'}"
        building = f"sqlite:///{DATA_DIR / 'finder_1m.building.sqlite3'}"
    else:
        url = args.postgres_server + "finder_bench_1m"
        building = args.postgres_server + "finder_bench_1m_building"
    if not args.rebuild and _is_complete(url):
        app = create_app("development", {"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            upgrade()  # newer migrations since it was built
            db.engine.dispose()
        return url
    print(f"  building {MILLION:,} synthetic facilities for {engine} (cached afterwards)")
    if engine == "sqlite":
        for path in DATA_DIR.glob("finder_1m*.sqlite3*"):
            path.unlink()
    else:
        _drop_postgres_database(building)
        _create_postgres_database(building)
    synthetic.build(national, building, MILLION, args.service)
    if engine == "sqlite":
        synthetic.sqlite_path(building).rename(synthetic.sqlite_path(url))
    else:
        _drop_postgres_database(url)
        with _admin(url) as conn:
            conn.execute(sa.text(
                'ALTER DATABASE "finder_bench_1m_building" RENAME TO "finder_bench_1m"'))
    return url


def warm(url: str) -> None:
    """Reads the tables a search touches into the OS cache, as a server running for a while has
    them; without it the first searches measure the disk, not the search."""
    if url.startswith("sqlite"):
        with open(synthetic.sqlite_path(url), "rb") as file:
            while file.read(1 << 24):
                pass
        return
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if not conn.execute(sa.text(
            "SELECT 1 FROM pg_extension WHERE extname = 'pg_prewarm'"
        )).first():
            if not sa.make_url(url).database.startswith("finder_bench"):
                print("  (not warmed: pg_prewarm is not installed in this database)")
                return
            conn.execute(sa.text("CREATE EXTENSION pg_prewarm"))
        conn.execute(sa.text(
            "SELECT pg_prewarm(c.oid, 'read') FROM pg_class AS c JOIN pg_namespace AS n"
            " ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')"
        ))
    engine.dispose()


def measure(url: str, code: str, queries: int, seed: int) -> Timings:
    warm(url)
    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": url, "GEOCODER": "offline"})
    with app.app_context():
        zips = list(db.session.scalars(sa.text("SELECT zip FROM zip_code ORDER BY zip")))
        floor = Floor(db.session, code)
    sample = random.Random(seed).sample(zips, min(len(zips), queries + WARM_UP))
    timings = Timings([], [], [], 0, 0)
    for n, zip_code in enumerate(sample):
        with app.app_context():  # as a request: a fresh session, returned to the pool after
            started = time.perf_counter()
            try:
                place = locate(zip_code)
            except PlaceNotFound:
                continue
            located = time.perf_counter()
            query = SearchQuery(place.latitude, place.longitude, RADIUS_MILES,
                                (frozenset({code}),), per_page=PER_PAGE)
            result = search(db.session, query)
            shown = [(h.facility.name1, [s.code for s in h.facility.services]) for h in result.hits]
            finished = time.perf_counter()
        if n < WARM_UP:
            continue
        floor_ms, floor_total = floor.time(place.latitude, place.longitude)
        timings.total.append((finished - started) * 1000)
        timings.geocode.append((located - started) * 1000)
        timings.floor.append(floor_ms)
        timings.empty += not shown
        timings.mismatched += floor_total != result.total
    with app.app_context():
        db.engine.dispose()
    return timings


class Floor:
    """The numpy brute force: every facility's coordinates in memory, scanned per query."""

    def __init__(self, session, code: str) -> None:
        rows = session.execute(sa.text(
            "SELECT f.id, f.latitude, f.longitude, f.status <> 'closed',"
            " EXISTS (SELECT 1 FROM facility_service AS fs WHERE fs.facility_id = f.id"
            " AND fs.service_code = :code) FROM facility AS f ORDER BY f.id"
        ), {"code": code}).all()
        columns = list(zip(*rows, strict=True))
        self.ids = np.array(columns[0])
        self.lat = np.radians(np.array(columns[1], dtype=float))
        self.lon = np.radians(np.array(columns[2], dtype=float))
        self.cos_lat = np.cos(self.lat)
        self.wanted = np.array(columns[3], dtype=bool) & np.array(columns[4], dtype=bool)

    def time(self, latitude: float, longitude: float) -> tuple[float, int]:
        started = time.perf_counter()
        p1, l1 = np.radians(latitude), np.radians(longitude)
        a = (np.sin((self.lat - p1) / 2) ** 2
             + np.cos(p1) * self.cos_lat * np.sin((self.lon - l1) / 2) ** 2)
        miles = 2 * EARTH_RADIUS_MILES * np.arcsin(np.minimum(1.0, np.sqrt(a)))
        found = np.flatnonzero((miles <= RADIUS_MILES) & self.wanted)
        if len(found) > PER_PAGE:
            found = found[np.argpartition(miles[found], PER_PAGE)[:PER_PAGE]]
        page = found[np.lexsort((self.ids[found], miles[found]))]
        elapsed = (time.perf_counter() - started) * 1000
        assert len(page) <= PER_PAGE
        total = int(np.count_nonzero((miles <= RADIUS_MILES) & self.wanted))
        return elapsed, total


def percentiles(values: list[float]) -> tuple[float, float, float]:
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def report(size: str, engine: str, t: Timings) -> None:
    p50, p95, p99 = percentiles(t.total)
    f50, f95, f99 = percentiles(t.floor)
    g50 = percentiles(t.geocode)[0]
    print(f"\n{size} / {engine}: {len(t.total)} searches, {t.empty} with nothing within"
          f" {RADIUS_MILES} miles, {t.mismatched} totals differing from the brute force")
    print(f"  finder   p50 {p50:7.2f}  p95 {p95:7.2f}  p99 {p99:7.2f}  (geocode p50 {g50:.2f})")
    print(f"  numpy    p50 {f50:7.2f}  p95 {f95:7.2f}  p99 {f99:7.2f}")
    print(f"  ratio    p50 {p50 / f50:7.2f}  p95 {p95 / f95:7.2f}  p99 {p99 / f99:7.2f}")


def summary(rows) -> str:
    lines = ["size      engine       p50     p95     p99   numpy p50  ratio p50  target"]
    for size, engine, t in rows:
        p50, p95, p99 = percentiles(t.total)
        floor50 = percentiles(t.floor)[0]
        goal50, goal95 = TARGETS[(size, engine)]
        met = (goal50 is None or p50 <= goal50) and p95 <= goal95
        goal = (f"p50 <= {goal50}, " if goal50 else "") + f"p95 <= {goal95}"
        lines.append(
            f"{size:9s} {engine:10s} {p50:7.2f} {p95:7.2f} {p99:7.2f}   {floor50:9.2f}"
            f"  {p50 / floor50:9.2f}  {goal}: {'met' if met else 'NOT MET'}"
        )
    return "\n".join(lines)


def _has_facilities(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM facility")).scalar_one() > 0
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def _is_complete(url: str) -> bool:
    """The cached database exists and holds its million facilities."""
    if url.startswith("sqlite") and not synthetic.sqlite_path(url).exists():
        return False
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM facility")).scalar_one() >= MILLION
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def _admin(url: str):
    admin = sa.make_url(url).set(database="postgres")
    return sa.create_engine(admin, isolation_level="AUTOCOMMIT").connect()


def _create_postgres_database(url: str) -> None:
    with _admin(url) as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{sa.make_url(url).database}"'))


def _drop_postgres_database(url: str) -> None:
    with _admin(url) as conn:
        name = sa.make_url(url).database
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
