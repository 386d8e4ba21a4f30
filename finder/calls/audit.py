"""The routing audit trail: append-only rows, each carrying the hash of the row before it.

``append`` queues a row in the session; the queued rows are written when the transaction
commits (``write_pending``, run by a ``before_commit`` hook), under the chain lock, which is then
held for one statement and the commit instead of the whole routing step. A rolled-back
transaction drops its queued rows with everything else it did.

``verify`` recomputes the chain and names the first row that was altered, removed or inserted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from finder.calls import locks
from finder.calls.models import AuditEntry
from finder.db import now_utc

GENESIS = "0" * 64
#: ``Session.info`` key: rows appended in this transaction, not yet written.
_PENDING = "finder.audit_pending"


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


def append(session: Session, *, call_id: int | None, attempt_number: int | None, kind: str,
           payload: dict) -> None:
    """Queue one row for the chain; it is written, in order, when the transaction commits."""
    session.info.setdefault(_PENDING, []).append(
        (call_id, attempt_number, kind, canonical(payload)))


def write_pending(session: Session) -> None:
    """Write the queued rows now: the step's own changes first, then the chain's next rows.

    The step's row locks are taken (flushed) before the chain lock, and the chain lock's holder
    then waits for nothing else, so appenders never wait for each other in a circle. On
    PostgreSQL one statement does it all (``finder_audit_append``, migration 0009: the lock,
    the last row, the hashes, the inserts); on SQLite, which holds the only write lock already,
    Python reads the last row and inserts.
    """
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()
    rows = [(call_id, attempt_number, kind, payload, now_utc())
            for call_id, attempt_number, kind, payload in pending]
    if locks.postgresql(session):
        session.execute(_APPEND, {
            "call_ids": [row[0] for row in rows], "attempt_numbers": [row[1] for row in rows],
            "kinds": [row[2] for row in rows], "payloads": [row[3] for row in rows],
            "created": [row[4] for row in rows], "stamps": [_stamp(row[4]) for row in rows]})
        return
    last = session.execute(
        sa.select(AuditEntry.id, AuditEntry.row_hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    entry_id, prev_hash = (last.id, last.row_hash) if last else (0, GENESIS)
    entries = []
    for call_id, attempt_number, kind, payload, created_at in rows:
        entry_id += 1
        row_hash = compute_hash(prev_hash, entry_id, call_id, attempt_number, kind, payload,
                                _stamp(created_at))
        entries.append({"id": entry_id, "call_id": call_id, "attempt_number": attempt_number,
                        "kind": kind, "payload": payload, "prev_hash": prev_hash,
                        "row_hash": row_hash, "created_at": created_at})
        prev_hash = row_hash
    session.execute(sa.insert(AuditEntry.__table__), entries)


_APPEND = sa.text(
    "SELECT finder_audit_append(CAST(:call_ids AS integer[]), "
    "CAST(:attempt_numbers AS integer[]), CAST(:kinds AS text[]), CAST(:payloads AS text[]), "
    "CAST(:created AS timestamptz[]), CAST(:stamps AS text[]))"
)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    if session.info.get(_PENDING):
        write_pending(session)


@event.listens_for(Session, "after_transaction_end")
def _drop_unwritten(session: Session, transaction: SessionTransaction) -> None:
    # After a commit nothing is left; after a rollback (or close) the rows go with the rest.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    rows_checked: int
    first_broken_id: int | None = None
    problem: str | None = None


def verify(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the whole chain in id order and recompute every hash."""
    write_pending(session)
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
    write_pending(session)
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
