"""Builds the benchmark's synthetic directory: a million facilities around the real ones.

Each synthetic facility sits near a real facility (Gaussian jitter of a few miles), so the density
follows the real map. Service links follow the proportions seen in the real FindTreatment.gov
sample; the benchmark's filter service is on ``FILTER_SHARE`` of the facilities. The schema comes
from the real Alembic migrations; the taxonomy and the ZIP gazetteer are copied from the national
(``flask seed``) database. Bulk loading skips the ORM for speed. On SQLite the spatial index
(``facility_cell``) is filled by its triggers as in production; on PostgreSQL foreign-key checks
and row triggers are off during the load and the index is then filled by migration 0002's own
backfill statement. Either way the builder checks it holds one row per facility and per link.
"""

from __future__ import annotations

import io
import runpy
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.schema import CreateIndex, DropIndex

from finder import create_app
from finder.directory.models import facility_service
from finder.extensions import db

#: Share of synthetic facilities offering the benchmark's filter service.
FILTER_SHARE = 0.25
#: Standard deviation of the jitter around a real facility, in degrees of latitude (~3.5 miles).
JITTER_DEGREES = 0.05
#: Share of closed synthetic facilities (closed ones stay listed but are not searched).
CLOSED_SHARE = 0.02
#: How often the real 2019 API sample lists the most common codes (share of its 30 facilities);
#: any other code gets ``OTHER_SHARE``. About 25 links per facility on average.
SAMPLE_SHARES = {
    "SF": 1.0, "MD": 0.93, "CBT": 0.9, "ADLT": 0.9, "YAD": 0.9, "PI": 0.87, "OP": 0.83,
    "STMH": 0.83, "SMON": 0.7, "SS": 0.6, "MC": 0.6, "SI": 0.57, "SA": 0.47, "CSAA": 0.47,
    "DP": 0.47, "MALE": 0.47, "CHLD": 0.47, "ANG": 0.43, "BIA": 0.43, "RELP": 0.43, "TRC": 0.43,
    "FEM": 0.43, "MOTI": 0.4, "DAUT": 0.4, "ACC": 0.4, "SSD": 0.37, "MHS": 0.33, "ORT": 0.33,
}
OTHER_SHARE = 0.03
CHUNK = 50_000
ROOT = Path(__file__).resolve().parent.parent

FACILITY_COLUMNS = (
    "id", "slug", "name1", "city", "state", "zip", "latitude", "longitude", "geo_precision",
    "status", "data_source", "created_at", "updated_at",
)


def build(national_url: str, target_url: str, size: int, filter_code: str, seed: int = 1) -> None:
    """Creates ``target_url`` (which must not exist yet) with ``size`` synthetic facilities."""
    started = time.perf_counter()
    source = sa.create_engine(national_url)
    with source.connect() as conn:
        real = conn.execute(sa.text("SELECT latitude, longitude, city, state, zip FROM facility"))
        real = real.all()
        categories = conn.execute(sa.text("SELECT * FROM service_category")).mappings().all()
        services = conn.execute(sa.text("SELECT * FROM service")).mappings().all()
        zips = conn.execute(sa.text("SELECT * FROM zip_code")).mappings().all()
    source.dispose()
    codes = [row["code"] for row in services]
    if filter_code not in codes:
        raise SystemExit(f"{filter_code} is not a service code of {national_url}")

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": target_url})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    engine = sa.create_engine(target_url)
    with engine.begin() as conn:
        for table, rows in (("service_category", categories), ("service", services),
                            ("zip_code", zips)):
            conn.execute(sa.table(table, *(sa.column(c) for c in rows[0])).insert(), rows)

    rng = np.random.default_rng(seed)
    shares = np.array([SAMPLE_SHARES.get(code, OTHER_SHARE) for code in codes])
    shares[codes.index(filter_code)] = FILTER_SHARE
    loader = _SqliteLoader(engine) if engine.dialect.name == "sqlite" else _PostgresLoader(engine)
    with loader:
        for start in range(0, size, CHUNK):
            ids = np.arange(start + 1, min(size, start + CHUNK) + 1)
            loader.facilities(_facilities(rng, ids, real, loader.NOW))
        loader.before_links()
        for start in range(0, size, CHUNK):
            ids = np.arange(start + 1, min(size, start + CHUNK) + 1)
            has = rng.random((len(ids), len(codes))) < shares
            rows, cols = np.nonzero(has)
            loader.links(ids[rows], np.array(codes, dtype=object)[cols])
        loader.after_links()
    with engine.connect() as conn:
        facilities, links, cells = (
            conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("facility", "facility_service", "facility_cell")
        )
    engine.dispose()
    if cells != facilities + links:
        raise SystemExit(f"facility_cell has {cells} rows, not {facilities} + {links}")
    print(f"  built {size:,} facilities in {time.perf_counter() - started:.0f} s: {target_url}")


def _facilities(rng, ids: np.ndarray, real: list, now: str) -> list[tuple]:
    picks = rng.integers(0, len(real), len(ids))
    lat0 = np.array([real[i][0] for i in picks])
    lon0 = np.array([real[i][1] for i in picks])
    lat = np.clip(lat0 + rng.normal(0, JITTER_DEGREES, len(ids)), -89.9, 89.9)
    stretch = 1 / np.cos(np.radians(lat))
    lon = np.clip(lon0 + rng.normal(0, JITTER_DEGREES, len(ids)) * stretch, -180, 180)
    closed = rng.random(len(ids)) < CLOSED_SHARE
    return [
        (int(i), f"synthetic-{i}", f"Synthetic facility {i}", real[p][2], real[p][3], real[p][4],
         float(la), float(lo), "rooftop", "closed" if c else "active", "synthetic benchmark",
         now, now)
        for i, p, la, lo, c in zip(ids, picks, lat, lon, closed, strict=True)
    ]


class _SqliteLoader:
    #: A creation time in the form the ORM stores on this engine.
    NOW = "2026-01-01 00:00:00.000000"

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def __enter__(self):
        self.raw = self.engine.raw_connection()
        self.cursor = self.raw.cursor()
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000"):
            self.cursor.execute(f"PRAGMA {pragma}")
        return self

    def facilities(self, rows: list[tuple]) -> None:
        marks = ", ".join("?" * len(FACILITY_COLUMNS))
        self.cursor.executemany(
            f"INSERT INTO facility ({', '.join(FACILITY_COLUMNS)}) VALUES ({marks})", rows
        )

    def before_links(self) -> None:
        # One index built after the load is much faster than one kept up to date row by row.
        for index in facility_service.indexes:
            self.cursor.execute(str(DropIndex(index).compile(dialect=self.engine.dialect)))

    def links(self, facility_ids: np.ndarray, codes: np.ndarray) -> None:
        self.cursor.executemany(
            "INSERT INTO facility_service (facility_id, service_code) VALUES (?, ?)",
            zip(facility_ids.tolist(), codes.tolist(), strict=True),
        )

    def after_links(self) -> None:
        for index in facility_service.indexes:
            self.cursor.execute(str(CreateIndex(index).compile(dialect=self.engine.dialect)))
        self.cursor.execute("ANALYZE")

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.raw.commit()
        self.raw.close()


class _PostgresLoader(_SqliteLoader):
    NOW = "2026-01-01 00:00:00+00"

    def __enter__(self):
        self.raw = self.engine.raw_connection()
        self.cursor = self.raw.cursor()
        # Foreign keys are right by construction, and checking 25 million of them (or running
        # the spatial index's row triggers) takes many minutes: after_links does their work.
        self.cursor.execute("SET session_replication_role = replica")
        return self

    def facilities(self, rows: list[tuple]) -> None:
        with self.cursor.copy(f"COPY facility ({', '.join(FACILITY_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def links(self, facility_ids: np.ndarray, codes: np.ndarray) -> None:
        buffer = io.StringIO()
        for facility_id, code in zip(facility_ids.tolist(), codes.tolist(), strict=True):
            buffer.write(f"{facility_id}\t{code}\n")
        with self.cursor.copy("COPY facility_service (facility_id, service_code) FROM STDIN") as c:
            c.write(buffer.getvalue())

    def after_links(self) -> None:
        for index in facility_service.indexes:
            self.cursor.execute(str(CreateIndex(index).compile(dialect=self.engine.dialect)))
        self.cursor.execute("SET session_replication_role = DEFAULT")
        # The triggers were off: fill the spatial index as migration 0002 does, in key order.
        migration = runpy.run_path(str(ROOT / "migrations/versions/0002_spatial_index.py"))
        self.cursor.execute("SET work_mem = '1GB'")
        self.cursor.execute(migration["backfill_sql"]("postgresql") + " ORDER BY 1, 2, 3, 4")

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.raw.commit()
            # Index-only scans need the visibility map that VACUUM writes.
            self.raw.driver_connection.autocommit = True
            self.raw.driver_connection.execute("VACUUM ANALYZE")
        self.raw.close()


def sqlite_path(url: str) -> Path:
    return Path(sa.make_url(url).database)
