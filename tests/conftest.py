"""Fixtures: every test that takes ``app`` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os

import pytest
from flask_migrate import upgrade

from finder import create_app
from finder.extensions import db
from tests.databases import DatabaseFactory, postgres_available

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BACKENDS = ["sqlite", "postgresql"]


def make_app(url: str, **overrides):
    return create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, **overrides})


def dispose(app) -> None:
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    if request.param == "postgresql":
        problem = postgres_available()
        if problem:
            if IN_CI:
                pytest.fail(f"CI must run the PostgreSQL tests. {problem}")
            pytest.skip(problem)
    return request.param


@pytest.fixture(scope="session")
def databases(backend, tmp_path_factory):
    factory = DatabaseFactory(backend, tmp_path_factory.mktemp(f"db-{backend}"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def migrated_template(databases) -> str:
    """An empty database with the schema built by the real Alembic migrations."""
    url = databases.new()
    app = make_app(url)
    with app.app_context():
        upgrade()
    dispose(app)
    return url


@pytest.fixture(scope="session")
def national_template(databases, migrated_template) -> str:
    """A database seeded with the real national data by ``flask seed``."""
    url = databases.new(template=migrated_template)
    app = make_app(url)
    result = app.test_cli_runner().invoke(args=["seed", "--quiet"])
    assert result.exit_code == 0, result.output
    dispose(app)
    return url


@pytest.fixture(scope="session")
def national_app(national_template):
    """The seeded national directory, shared read-only by the tests of one backend."""
    app = make_app(national_template)
    yield app
    dispose(app)


@pytest.fixture
def app(databases, migrated_template):
    """A fresh, migrated, empty database for a test that changes data."""
    app = make_app(databases.new(template=migrated_template))
    yield app
    dispose(app)


@pytest.fixture
def seeded_app(databases, national_template):
    """A private copy of the seeded national directory, for a test that changes it."""
    app = make_app(databases.new(template=national_template))
    yield app
    dispose(app)


@pytest.fixture
def client(national_app):
    return national_app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
