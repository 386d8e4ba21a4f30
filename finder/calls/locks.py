"""Who waits for whom during a voice webhook step, so that steps of different calls overlap.

A routing step is one database transaction. Three kinds of work in it need an order:

- **the steps of one call** (its dial action and its legs' status callbacks can arrive at once)
  take turns: ``call_lock``, keyed by the parent CallSid, taken by the step's first statement
  (``steps._claim``);
- **steps that reserve or release an advertiser's caps** take turns per pool: ``pool_turn``,
  taken before the first counter row is touched and after the step's own call and leg rows are
  locked;
- **the audit chain** grows one row at a time: its lock (``CHAIN_KEY``) is taken last, at
  commit, by the one statement that appends the step's rows (``audit.write_pending``; on
  PostgreSQL the function ``finder_audit_append``, migration 0009).

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


def postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _held(session: Session) -> set[tuple[int, ...]]:
    """The advisory locks the session's current database transaction holds.

    The innermost database transaction is the key, so a rolled-back savepoint, which releases
    what it took, never leaves a lock assumed.
    """
    connection = session.connection()
    transaction = connection.get_nested_transaction() or connection.get_transaction()
    transaction_held = connection.info.get(_HELD)
    if transaction_held is None or transaction_held[0] is not transaction:
        transaction_held = (transaction, set())
        connection.info[_HELD] = transaction_held
    return transaction_held[1]


def expression(lock: tuple) -> sa.ColumnElement:
    """``pg_advisory_xact_lock(...)`` for ``lock`` (its keys, or bind parameters standing for
    them), to take it inside another statement, one round trip less. Whoever runs it must then
    call ``taken``."""
    key_type = sa.BigInteger if len(lock) == 1 else sa.Integer  # (bigint) or (int, int)
    return sa.func.pg_advisory_xact_lock(*(
        key if isinstance(key, sa.ColumnElement) else sa.literal(key, key_type) for key in lock))


def taken(session: Session, lock: tuple[int, ...]) -> None:
    """Note that the current transaction now holds ``lock`` (taken by a statement of its own)."""
    _held(session).add(lock)


def holds(session: Session, lock: tuple[int, ...]) -> bool:
    return lock in _held(session)


def scalar_taking(session: Session, lock: tuple[int, ...] | None, query: sa.Select):
    """``query``'s first value (None without a row); on PostgreSQL ``lock`` (unless already
    held) is taken by the same statement, one round trip less than taking it first.

    The query runs on a snapshot from before the lock was granted: use it only for a read that
    need not see what the lock's previous holder committed.
    """
    with session.no_autoflush:
        if lock is None or not postgresql(session) or holds(session, lock):
            return session.execute(query).scalar()
        value = session.execute(sa.select(query.scalar_subquery(), expression(lock))).first()[0]
    taken(session, lock)
    return value


def _take(session: Session, lock: tuple[int, ...]) -> None:
    """Take an advisory lock until the transaction ends; once per transaction is enough.

    Pending ORM changes are not flushed first: their row locks come after this lock.
    """
    held = _held(session)
    if lock in held:
        return
    with session.no_autoflush:
        session.execute(sa.select(expression(lock)))
    held.add(lock)


def _int4(value: int) -> int:
    """Fold a non-negative number into PostgreSQL's signed 32-bit range."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def call_lock(call_sid: str) -> tuple[int, int]:
    """The advisory lock of one call's turn, keyed by its (parent) CallSid."""
    return (CALL_NAMESPACE, _int4(zlib.crc32(call_sid.encode())))


def pool_lock(pool_id: int) -> tuple[int, int]:
    """The advisory lock of one pool's turn."""
    return (POOL_NAMESPACE, _int4(pool_id))


def pool_turn(session: Session, pool_id: int | None) -> None:
    """Steps that change a pool's cap counters take turns (PostgreSQL)."""
    if pool_id is not None and postgresql(session):
        _take(session, pool_lock(pool_id))


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
