"""Retention: call-back numbers and the details that tie old calls to a caller are purged.

What goes, and what stays:

- Call-back requests older than ``RETENTION_CALLBACK_DAYS`` are deleted (the encrypted number
  with them).
- Calls older than ``RETENTION_CALL_DAYS`` lose what links them to a person: the caller's keyed
  hash and last four digits are cleared, Twilio's CallSid is replaced by ``purged-<id>`` and the
  outgoing legs' CallSids are cleared (with a CallSid, Twilio's own logs give the caller's
  number back), and the webhook receipts of those calls are deleted.
- The audit chain is neither deleted nor changed: its rows hold no caller number, hash or
  CallSid, only the decision (candidates, reasons, figures, the caller's state), so it still
  verifies. Calls and their attempts stay as rows, without caller data, so every attempt still
  finds its decision row and the advertisers' answer rates and invoices still add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from finder.calls.models import Call, CallAttempt, CallbackRequest, WebhookReceipt

PURGED_PREFIX = "purged-"


@dataclass(frozen=True)
class PurgeReport:
    callback_cutoff: datetime
    call_cutoff: datetime
    callbacks_deleted: int
    calls_anonymized: int
    legs_cleared: int
    receipts_deleted: int
    dry_run: bool

    def lines(self) -> list[str]:
        verb = "would be" if self.dry_run else "were"
        return [
            f"Call-back requests from before {self.callback_cutoff:%Y-%m-%d %H:%M} UTC: "
            f"{self.callbacks_deleted} {verb} deleted.",
            f"Calls from before {self.call_cutoff:%Y-%m-%d %H:%M} UTC: "
            f"{self.calls_anonymized} {verb} stripped of caller details "
            f"({self.legs_cleared} leg ids cleared, {self.receipts_deleted} webhook receipts "
            "deleted).",
            "The audit chain was left as it is." if not self.dry_run
            else "Dry run: nothing was changed.",
        ]


def _count(session: Session, query) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()


def purge(session: Session, *, now: datetime, callback_days: int, call_days: int,
          dry_run: bool = False) -> PurgeReport:
    """Purge what is past its age, in the caller's transaction (the caller commits)."""
    if callback_days < 0 or call_days < 0:
        raise ValueError("retention ages cannot be negative")
    now = now.astimezone(UTC)  # SQLite compares stored UTC text
    callback_cutoff = now - timedelta(days=callback_days)
    call_cutoff = now - timedelta(days=call_days)

    old_callbacks = sa.select(CallbackRequest.id).where(
        CallbackRequest.created_at < callback_cutoff
    )
    old_calls = sa.select(Call.id).where(Call.started_at < call_cutoff)
    # Only calls that still carry something to purge count, so a second run reports zero.
    identifiable = old_calls.where(sa.or_(
        Call.caller_hash.is_not(None),
        Call.caller_last_four.is_not(None),
        ~Call.call_sid.startswith(PURGED_PREFIX),
    ))
    legs = sa.select(CallAttempt.id).where(
        CallAttempt.call_id.in_(old_calls), CallAttempt.leg_sid.is_not(None)
    )
    receipts = sa.select(WebhookReceipt.id).where(sa.or_(
        WebhookReceipt.created_at < call_cutoff,
        WebhookReceipt.call_sid.in_(sa.select(Call.call_sid).where(Call.id.in_(old_calls))),
    ))
    report = PurgeReport(
        callback_cutoff=callback_cutoff,
        call_cutoff=call_cutoff,
        callbacks_deleted=_count(session, old_callbacks),
        calls_anonymized=_count(session, identifiable),
        legs_cleared=_count(session, legs),
        receipts_deleted=_count(session, receipts),
        dry_run=dry_run,
    )
    if dry_run:
        return report

    unsynchronized = {"synchronize_session": False}
    session.execute(sa.delete(CallbackRequest).where(CallbackRequest.id.in_(old_callbacks)),
                    execution_options=unsynchronized)
    # Receipts first: they are found through the CallSids about to be replaced.
    session.execute(sa.delete(WebhookReceipt).where(WebhookReceipt.id.in_(receipts)),
                    execution_options=unsynchronized)
    session.execute(sa.update(CallAttempt).where(CallAttempt.id.in_(legs)).values(leg_sid=None),
                    execution_options=unsynchronized)
    session.execute(
        sa.update(Call)
        .where(Call.id.in_(identifiable))
        .values(
            caller_hash=None,
            caller_last_four=None,
            call_sid=sa.literal(PURGED_PREFIX) + sa.cast(Call.id, sa.String),
        ),
        execution_options=unsynchronized,
    )
    session.expire_all()
    return report
