"""``/healthz``: 200 while the database answers, 503 (saying nothing more) while it does not."""

from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa

from tests.conftest import dispose, make_app
from tests.databases import POSTGRES_ADMIN_URL


def test_healthy_without_logging_in(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def _missing_database(databases) -> tuple[str, callable]:
    """A URL of a database that does not exist yet, and a function that creates it."""
    name = f"finder_health_{uuid.uuid4().hex[:10]}"
    if databases.backend == "sqlite":
        folder = databases.workdir / name
        url = f"sqlite:///{folder / 'finder.sqlite3'}"
        return url, lambda: folder.mkdir()
    url = sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def create() -> None:
        engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        databases.created.append(url)  # dropped with the session's other databases

    return url, create


def test_unavailable_database_is_a_bare_503_until_it_returns(databases, caplog):
    url, bring_back = _missing_database(databases)
    app = make_app(url)
    try:
        client = app.test_client()
        with caplog.at_level(logging.WARNING, logger="finder.health"):
            response = client.get("/healthz")
        assert response.status_code == 503
        assert response.get_json() == {"status": "unavailable"}
        assert response.headers["Cache-Control"] == "no-store"
        body = response.get_data(as_text=True).lower()
        assert not any(word in body for word in ("finder_health_", "sqlite", "postgres", "error"))
        assert "OperationalError" in caplog.text
        assert "finder_health_" not in caplog.text

        bring_back()
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.get_json() == {"status": "ok"}
    finally:
        dispose(app)
