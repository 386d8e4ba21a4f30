"""The routing audit trail: append-only rows, each carrying the hash of the row before it.

``verify`` recomputes the chain and names the first row that was altered, removed or inserted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from finder.calls.models import AuditEntry
from finder.db import now_utc

GENESIS = "0" * 64
#: Serializes appenders on PostgreSQL so the chain never forks (SQLite has one writer anyway).
_ADVISORY_LOCK_KEY = 0x66696E646572
#: ``Connection.info`` key: the database transaction that holds the routing lock.
_LOCK_HELD_IN = "finder.routing_lock_held_in"


def canonical(payload: dict) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)


def compute_hash(prev_hash: str, entry_id: int, call_id, attempt_number, kind: str,
                 payload: str, created_at: str) -> str:
    material = "|".join(
        [prev_hash, str(entry_id), str(call_id), str(attempt_number), kind, payload, created_at]
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _stamp(created_at: datetime) -> str:
    # SQLite hands back naive UTC, PostgreSQL an aware time: both hash as the same UTC text.
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    return created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def lock_chain(session: Session) -> None:
    """Take the routing lock (PostgreSQL) until the transaction ends.

    Every routing step that writes counters, legs or the chain takes it before its first row
    lock, so two steps never hold row locks and wait for each other in opposite orders. Pending
    changes are not flushed ahead of it: their row locks come after the lock.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    # One step asks several times (claim, expiry, reserve, append...): once per transaction is
    # enough. The innermost database transaction is the key, so a rolled-back savepoint, which
    # releases what it took, never leaves the lock assumed.
    connection = session.connection()
    transaction = connection.get_nested_transaction() or connection.get_transaction()
    if transaction is not None and connection.info.get(_LOCK_HELD_IN) is transaction:
        return
    with session.no_autoflush:
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": _ADVISORY_LOCK_KEY})
    connection.info[_LOCK_HELD_IN] = transaction


def append(session: Session, *, call_id: int | None, attempt_number: int | None, kind: str,
           payload: dict) -> AuditEntry:
    """Append one row to the chain inside the caller's transaction."""
    lock_chain(session)
    last = session.execute(
        sa.select(AuditEntry.id, AuditEntry.row_hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    entry = AuditEntry(
        id=(last.id + 1) if last else 1,
        call_id=call_id,
        attempt_number=attempt_number,
        kind=kind,
        payload=canonical(payload),
        prev_hash=last.row_hash if last else GENESIS,
        created_at=now_utc(),
        row_hash="",
    )
    entry.row_hash = compute_hash(entry.prev_hash, entry.id, call_id, attempt_number, kind,
                                  entry.payload, _stamp(entry.created_at))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    rows_checked: int
    first_broken_id: int | None = None
    problem: str | None = None


def verify(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the whole chain in id order and recompute every hash."""
    prev_hash, expected_id, checked = GENESIS, 1, 0
    last_id = 0
    while True:
        rows = session.execute(
            sa.select(
                AuditEntry.id, AuditEntry.call_id, AuditEntry.attempt_number, AuditEntry.kind,
                AuditEntry.payload, AuditEntry.prev_hash, AuditEntry.row_hash,
                AuditEntry.created_at,
            ).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            return ChainReport(True, checked)
        for entry in rows:
            if entry.id != expected_id:
                return ChainReport(False, checked, expected_id,
                                   f"row {expected_id} is missing (next row is {entry.id})")
            if entry.prev_hash != prev_hash:
                return ChainReport(False, checked, entry.id,
                                   f"row {entry.id} does not follow the row before it")
            recomputed = compute_hash(prev_hash, entry.id, entry.call_id, entry.attempt_number,
                                      entry.kind, entry.payload, _stamp(entry.created_at))
            if recomputed != entry.row_hash:
                return ChainReport(False, checked, entry.id,
                                   f"row {entry.id} was altered after it was written")
            prev_hash, expected_id, last_id = entry.row_hash, entry.id + 1, entry.id
            checked += 1


def rows_for_call(session: Session, call_id: int) -> list[AuditEntry]:
    return list(session.execute(
        sa.select(AuditEntry).where(AuditEntry.call_id == call_id).order_by(AuditEntry.id)
    ).scalars())


@dataclass(frozen=True)
class RowCheck:
    """One row's place in the chain: intact, or what is wrong with it."""

    id: int
    intact: bool
    problem: str | None = None


def check_rows(session: Session, rows: list[AuditEntry]) -> list[RowCheck]:
    """Recompute each of ``rows``' hashes against the row just before it in the whole chain.

    For one call's rows (``rows_for_call``) without walking the chain: the rows before them are
    fetched by id, so a row altered, removed or inserted next to them is named.
    """
    wanted = {row.id - 1 for row in rows if row.id > 1}
    previous = dict(session.execute(
        sa.select(AuditEntry.id, AuditEntry.row_hash).where(AuditEntry.id.in_(wanted))
    ).all()) if wanted else {}
    checks = []
    for row in rows:
        expected = GENESIS if row.id == 1 else previous.get(row.id - 1)
        if expected is None:
            checks.append(RowCheck(row.id, False, f"row {row.id - 1}, the row before row "
                                                  f"{row.id}, is missing"))
        elif row.prev_hash != expected:
            checks.append(RowCheck(row.id, False,
                                   f"row {row.id} does not follow the row before it"))
        elif compute_hash(expected, row.id, row.call_id, row.attempt_number, row.kind,
                          row.payload, _stamp(row.created_at)) != row.row_hash:
            checks.append(RowCheck(row.id, False,
                                   f"row {row.id} was altered after it was written"))
        else:
            checks.append(RowCheck(row.id, True))
    return checks
