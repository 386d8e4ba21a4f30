"""The databases the search benchmark runs on: the seeded national directory and the cached
synthetic million (``benchmarks/data/`` for SQLite, ``finder_bench_*`` databases on PostgreSQL).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import upgrade

from benchmarks import synthetic
from config import INSTANCE_DIR, normalize_database_url
from finder import ROOT, create_app
from finder.extensions import db

DATA_DIR = ROOT / "benchmarks" / "data"
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"
MILLION = 1_000_000


def national(engine: str, database_url: str | None, postgres_server: str) -> str:
    """The seeded national database of ``engine``: ``database_url`` when it is one, else
    ``instance/finder.sqlite3`` (``make seed``) or ``finder_bench_national`` (seeded here)."""
    given = normalize_database_url(database_url) if database_url else None
    if given and sa.make_url(given).get_backend_name() == engine:
        return given
    if engine == "sqlite":
        path = INSTANCE_DIR / "finder.sqlite3"
        if not _has_facilities(f"sqlite:///{path}"):
            raise SystemExit(f"{path} is not seeded: run `make seed` first")
        return f"sqlite:///{path}"
    url = postgres_server + "finder_bench_national"
    if not _has_facilities(url):
        print("  creating and seeding finder_bench_national (flask db upgrade, flask seed)")
        _drop_postgres_database(url)
        _create_postgres_database(url)
        app = create_app("development", {"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            upgrade()
            result = app.test_cli_runner().invoke(args=["seed", "--quiet"])
            if result.exit_code:
                raise SystemExit(result.output)
            db.engine.dispose()
        # What autovacuum does within a minute of the seeding: statistics and visibility map.
        with _connect(url) as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    return url


def million(engine: str, national: str, postgres_server: str, service: str,
            rebuild: bool = False) -> str:
    """The cached synthetic million, built from ``national`` (a few minutes) when missing."""
    if engine == "sqlite":
        DATA_DIR.mkdir(exist_ok=True)
        url = f"sqlite:///{DATA_DIR / 'finder_1m.sqlite3'}"
        building = f"sqlite:///{DATA_DIR / 'finder_1m.building.sqlite3'}"
    else:
        url = postgres_server + "finder_bench_1m"
        building = postgres_server + "finder_bench_1m_building"
    if not rebuild and _is_complete(url):
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
    synthetic.build(national, building, MILLION, service)
    if engine == "sqlite":
        synthetic.sqlite_path(building).rename(synthetic.sqlite_path(url))
    else:
        _drop_postgres_database(url)
        with _connect(url, "postgres") as conn:
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


def postgres_problem(server: str) -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    try:
        with _connect(server + "postgres") as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        return f"{server} is not reachable ({exc.__class__.__name__})"
    return None


def _connect(url: str, database: str | None = None):
    """An autocommit connection to ``url`` (or to another database of its server)."""
    if database:
        url = sa.make_url(url).set(database=database)
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool).connect()


def _create_postgres_database(url: str) -> None:
    with _connect(url, "postgres") as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{sa.make_url(url).database}"'))


def _drop_postgres_database(url: str) -> None:
    with _connect(url, "postgres") as conn:
        name = sa.make_url(url).database
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
