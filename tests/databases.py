"""Test databases on both engines: SQLite files and PostgreSQL databases, cloned from templates.

Each test session migrates (and, for the national fixture, seeds) a template once; tests that
change data get a clone, which is a file copy on SQLite and ``CREATE DATABASE ... TEMPLATE`` on
PostgreSQL.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from config import normalize_database_url

POSTGRES_ADMIN_URL = normalize_database_url(
    os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
)
_counter = itertools.count()


def postgres_available() -> str | None:
    """None when the PostgreSQL test server answers, otherwise why not."""
    try:
        engine = sa.create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {exc}"


@dataclass
class DatabaseFactory:
    """Creates and drops the databases of one backend for one test session."""

    backend: str
    workdir: Path
    created: list[str] = field(default_factory=list)

    def _admin_engine(self) -> sa.Engine:
        return sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def new(self, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``), returned as a URL."""
        name = f"finder_test_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
        if self.backend == "sqlite":
            path = self.workdir / f"{name}.sqlite3"
            if template:
                shutil.copyfile(sa.make_url(template).database, path)
            url = f"sqlite:///{path}"
        else:
            engine = self._admin_engine()
            with engine.connect() as conn:
                if template:
                    source = sa.make_url(template).database
                    # CREATE DATABASE ... TEMPLATE needs the template to have no other sessions;
                    # pooled connections of a shared app reconnect (pool_pre_ping).
                    conn.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :name AND pid <> pg_backend_pid()"
                        ),
                        {"name": source},
                    )
                    conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
                else:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            engine.dispose()
            url = sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(
                hide_password=False
            )
        self.created.append(url)
        return url

    def drop_all(self) -> None:
        if self.backend != "postgresql":
            return
        engine = self._admin_engine()
        with engine.connect() as conn:
            for url in reversed(self.created):
                name = sa.make_url(url).database
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
