"""The audit check behind ``flask audit verify``: the hash chain, and a decision for every attempt.

The chain alone cannot notice rows cut off its end (what is left still links up), so every call
attempt must also find its decision row: an attempt without one means rows were removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from finder.calls import audit
from finder.calls.models import AuditEntry, CallAttempt


@dataclass(frozen=True)
class AuditCheck:
    intact: bool
    rows_checked: int
    first_broken_id: int | None = None
    problem: str | None = None


def attempts_without_decision(session: Session, limit: int = 5) -> list[tuple[int, int]]:
    """(call id, attempt number) of attempts that no decision row records, first ones first."""
    decision = aliased(AuditEntry)
    return [tuple(row) for row in session.execute(
        sa.select(CallAttempt.call_id, CallAttempt.attempt_number)
        .outerjoin(decision, sa.and_(
            decision.call_id == CallAttempt.call_id,
            decision.attempt_number == CallAttempt.attempt_number,
            decision.kind == "decision",
        ))
        .where(decision.id.is_(None))
        .order_by(CallAttempt.call_id, CallAttempt.attempt_number)
        .limit(limit)
    )]


def check_audit(session: Session) -> AuditCheck:
    """Walk the chain, then look for attempts whose decision rows are gone."""
    report = audit.verify(session)
    if not report.intact:
        return AuditCheck(False, report.rows_checked, report.first_broken_id, report.problem)
    missing = attempts_without_decision(session)
    if missing:
        last_id = session.execute(sa.select(sa.func.max(AuditEntry.id))).scalar() or 0
        listed = ", ".join(f"call {call} attempt {attempt}" for call, attempt in missing)
        return AuditCheck(
            False, report.rows_checked, last_id + 1,
            f"no decision row for {listed}; rows after row {last_id} may have been removed",
        )
    return AuditCheck(True, report.rows_checked)
