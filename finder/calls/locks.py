"""Who waits for whom during a voice webhook step, so that steps of different calls overlap.

A routing step is one database transaction. Three kinds of work in it need an order:

- **the steps of one call** (its dial action and its legs' status callbacks can arrive at once)
  take turns: ``call_turn``, keyed by the parent CallSid;
- **steps that reserve or release an advertiser's caps** take turns per pool: ``pool_turn``,
  taken before the first counter row is touched and after the step's own call and leg rows are
  locked;
- **the audit chain** grows one row at a time: ``chain_turn``, taken last, at commit, for two
  statements (read the last row, insert the new ones; see ``audit.write_pending``).

Every step takes them in that order (call, pool, chain) and nothing else waits while holding a
later one, so two steps never wait for each other. On PostgreSQL these are transaction-scoped
advisory locks, released by the commit or rollback. SQLite has a single writer, so a step holds
the whole database from its first write; ``writer_turn`` makes the writers of several gunicorn
processes queue for it on a file lock (the kernel wakes the next one as soon as the lock is
free) instead of SQLite's busy handler, which sleeps and retries up to 100 ms apart.
"""

from __future__ import annotations

import fcntl
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.orm import Session

#: Two-key advisory lock namespaces (first key) for calls and pools.
CALL_NAMESPACE = 0x66696E01
POOL_NAMESPACE = 0x66696E02
#: The one-key advisory lock of the audit chain.
CHAIN_KEY = 0x66696E646572
#: ``Connection.info`` key: the locks this database transaction holds.
_HELD = "finder.advisory_locks_held"


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _take(session: Session, lock: tuple[int, ...]) -> None:
    """Take an advisory lock until the transaction ends; once per transaction is enough.

    The innermost database transaction is the key, so a rolled-back savepoint, which releases
    what it took, never leaves a lock assumed. Pending ORM changes are not flushed first: their
    row locks come after this lock.
    """
    connection = session.connection()
    transaction = connection.get_nested_transaction() or connection.get_transaction()
    transaction_held = connection.info.get(_HELD)
    if transaction_held is None or transaction_held[0] is not transaction:
        transaction_held = (transaction, set())
        connection.info[_HELD] = transaction_held
    if lock in transaction_held[1]:
        return
    with session.no_autoflush:
        if len(lock) == 1:
            session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock[0]})
        else:
            session.execute(sa.text("SELECT pg_advisory_xact_lock(:space, :key)"),
                            {"space": lock[0], "key": lock[1]})
    transaction_held[1].add(lock)


def _int4(value: int) -> int:
    """Fold a non-negative number into PostgreSQL's signed 32-bit range."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def call_turn(session: Session, call_sid: str) -> None:
    """The steps of one call take turns (PostgreSQL; SQLite's writer lock already does)."""
    if _postgresql(session):
        _take(session, (CALL_NAMESPACE, _int4(zlib.crc32(call_sid.encode()))))


def pool_turn(session: Session, pool_id: int | None) -> None:
    """Steps that change a pool's cap counters take turns (PostgreSQL)."""
    if pool_id is not None and _postgresql(session):
        _take(session, (POOL_NAMESPACE, _int4(pool_id)))


def chain_turn(session: Session) -> None:
    """Audit rows are appended one writer at a time, so the chain never forks (PostgreSQL)."""
    if _postgresql(session):
        _take(session, (CHAIN_KEY,))


def _sqlite_file(session: Session) -> str | None:
    url = session.get_bind().url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return os.path.abspath(url.database)


@contextmanager
def writer_turn(session: Session) -> Iterator[None]:
    """On a SQLite file, wait in a queue for the database's single writer; else nothing.

    The lock is a file next to the database (``<database>-writer.lock``); every thread opens it
    afresh, so threads of one process queue too. A killed process releases it with its files.
    """
    path = _sqlite_file(session)
    if path is None:
        yield
        return
    descriptor = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock
