"""What both load scripts share: a throwaway database, the server's settings, a log directory.

The server runs as in production unless ``--development``: ``deploy/gunicorn.conf.py`` (its
logging: access log on stdout, app and gunicorn messages on stderr), ``FINDER_ENV=production``
and secrets made up for the run (never the public development ones).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet

from config import normalize_database_url

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def gunicorn_config(development: bool) -> Path | None:
    """The production gunicorn config, unless ``development`` (or it is not there)."""
    return None if development or not GUNICORN_CONFIG.exists() else GUNICORN_CONFIG


def environment(development: bool, log_level: str = "info") -> dict[str, str]:
    """The server's settings: production with secrets made up for this run, or development."""
    return {
        "FINDER_ENV": "development" if development else "production",
        "LOG_LEVEL": log_level,
        "SECRET_KEY": secrets.token_hex(32),
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "CALLER_HASH_KEY": secrets.token_hex(32),
        "CALLBACK_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "FLASK_DEBUG": "0",
    }


def postgres_url(server: str, database: str) -> str:
    """``database`` on the PostgreSQL server that ``server`` (any database URL) points to."""
    return sa.make_url(normalize_database_url(server)).set(database=database).render_as_string(
        hide_password=False)


def admin(server: str, *statements: str) -> None:
    """Run statements (CREATE / DROP DATABASE) in autocommit on ``server``."""
    engine = sa.create_engine(normalize_database_url(server), isolation_level="AUTOCOMMIT",
                              poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


@contextmanager
def throwaway_database(engine: str, server: str, name: str, keep: bool):
    """A new, empty database (PostgreSQL ``name`` on ``server``, or a SQLite file in a temporary
    directory), dropped afterwards unless ``keep``."""
    if engine == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        try:
            yield f"sqlite:///{directory / f'{name}.sqlite3'}"
        finally:
            if keep:
                print(f"  kept {directory / f'{name}.sqlite3'}")
            else:
                shutil.rmtree(directory, ignore_errors=True)
        return
    admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url(server, name)
    finally:
        if keep:
            print(f"  kept database {name}")
        else:
            admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def log_directory(keep: bool, prefix: str):
    """Where the server's logs go; removed afterwards unless ``keep``."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield directory
    finally:
        if keep:
            print(f"  kept the server's logs in {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
