"""Reading calls for operators: the filtered call log, and one call with its decisions and chain.

Plain functions of a session: no Flask. The caller's number is never here (finder never stored
it); only its last four digits, shown masked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from finder.calls import audit
from finder.calls.models import AuditEntry, Call, CallAttempt
from finder.calls.usage import ANSWERED
from finder.directory.models import Facility
from finder.operations.period import Period, as_utc
from finder.paging import Page, clamped

PER_PAGE = 50
#: Number kinds a call can have; "unknown" is a call to a number finder does not route.
KINDS = ("facility", "helpline", "unknown")
DESTINATION_KINDS = ("advertiser", "facility", "samhsa")
UNKNOWN_STATE = "unknown"
SAMHSA_NAME = "SAMHSA National Helpline"


def masked(last_four: str | None) -> str:
    """How a caller is shown: the last four digits only."""
    return f"•••• {last_four}" if last_four else "withheld"


@dataclass(frozen=True)
class CallFilter:
    since: date | None = None  #: first UTC day included
    until: date | None = None  #: last UTC day included
    number_id: int | None = None
    kind: str | None = None  #: one of KINDS
    destination: str | None = None  #: one of DESTINATION_KINDS: any leg went there
    advertiser_id: int | None = None  #: any leg went to this advertiser
    outcome: str | None = None
    caller_state: str | None = None  #: a state code, or UNKNOWN_STATE


def filtered(flt: CallFilter) -> sa.Select:
    query = sa.select(Call)
    if flt.since:
        query = query.where(Call.started_at >= Period(flt.since, flt.since).start)
    if flt.until and flt.until < date.max - timedelta(days=1):
        query = query.where(Call.started_at < Period(flt.until, flt.until).end)
    if flt.number_id is not None:
        query = query.where(Call.tracking_number_id == flt.number_id)
    if flt.kind == "unknown":
        query = query.where(Call.number_kind.is_(None))
    elif flt.kind:
        query = query.where(Call.number_kind == flt.kind)
    if flt.destination or flt.advertiser_id is not None:
        leg = sa.exists().where(CallAttempt.call_id == Call.id)
        if flt.destination:
            leg = leg.where(CallAttempt.destination_kind == flt.destination)
        if flt.advertiser_id is not None:
            leg = leg.where(CallAttempt.advertiser_id == flt.advertiser_id)
        query = query.where(leg)
    if flt.outcome:
        query = query.where(Call.outcome == flt.outcome)
    if flt.caller_state == UNKNOWN_STATE:
        query = query.where(Call.caller_state.is_(None))
    elif flt.caller_state:
        query = query.where(Call.caller_state == flt.caller_state)
    return query


@dataclass
class LogRow:
    call: Call
    attempts: int
    final_kind: str | None  #: where the last leg went
    final_name: str | None

    @property
    def caller(self) -> str:
        return masked(self.call.caller_last_four)

    @property
    def final_destination(self) -> str:
        return f"{self.final_kind}: {self.final_name}" if self.final_kind else "none"



def facility_names(session: Session, ids) -> dict[int, str]:
    ids = sorted({i for i in ids if i is not None})
    if not ids:
        return {}
    return dict(session.execute(
        sa.select(Facility.id, Facility.name1).where(Facility.id.in_(ids))).all())


def destination_name(attempt: CallAttempt, facilities: dict[int, str]) -> str:
    if attempt.destination_kind == "advertiser" and attempt.advertiser is not None:
        return attempt.advertiser.name
    if attempt.destination_kind == "facility":
        return facilities.get(attempt.facility_id, f"facility #{attempt.facility_id}")
    if attempt.destination_kind == "samhsa":
        return SAMHSA_NAME
    return attempt.dialed_number


def _log_rows(session: Session, ids: list[int]) -> list[LogRow]:
    calls = session.execute(
        sa.select(Call).where(Call.id.in_(ids)).options(
            selectinload(Call.attempts).selectinload(CallAttempt.advertiser),
            selectinload(Call.tracking_number),
        )
    ).scalars().all()
    by_id = {call.id: call for call in calls}
    names = facility_names(session, (a.facility_id for c in calls for a in c.attempts))
    rows = []
    for call_id in ids:
        call = by_id[call_id]
        last = call.attempts[-1] if call.attempts else None
        rows.append(LogRow(call, len(call.attempts),
                           last.destination_kind if last else None,
                           destination_name(last, names) if last else None))
    return rows


def _ordered_ids(flt: CallFilter) -> sa.Select:
    inner = filtered(flt).subquery()
    return sa.select(inner.c.id).order_by(inner.c.started_at.desc(), inner.c.id.desc())


def call_page(session: Session, flt: CallFilter, page: int = 1,
              per_page: int = PER_PAGE) -> Page:
    """One page of matching calls, newest first (a page past the end shows the last one)."""
    total = session.execute(
        sa.select(sa.func.count()).select_from(filtered(flt).subquery())).scalar_one()
    page = clamped(page, total, per_page)
    ids = list(session.execute(
        _ordered_ids(flt).offset((page - 1) * per_page).limit(per_page)).scalars())
    return Page(_log_rows(session, ids), total, page, per_page)


def all_calls(session: Session, flt: CallFilter, chunk: int = 500) -> Iterator[LogRow]:
    """Every matching call, newest first, loaded a chunk at a time (for the CSV export)."""
    ids = list(session.execute(_ordered_ids(flt)).scalars())
    for offset in range(0, len(ids), chunk):
        # The session's identity map holds rows weakly: a chunk goes once it is written.
        yield from _log_rows(session, ids[offset:offset + chunk])


def answer_times(session: Session, *conditions) -> dict[int, float]:
    """Seconds from routing to the destination answering, per answered attempt."""
    rows = session.execute(
        sa.select(CallAttempt.id, CallAttempt.started_at, CallAttempt.answered_at)
        .join(Call, Call.id == CallAttempt.call_id)
        .where(CallAttempt.status.in_(ANSWERED), CallAttempt.answered_at.is_not(None),
               *conditions)
    ).all()
    return {attempt_id: max(0.0, (as_utc(answered) - as_utc(started)).total_seconds())
            for attempt_id, started, answered in rows}


# -- one call -------------------------------------------------------------------------------

def parse_payload(entry: AuditEntry) -> dict:
    try:
        payload = json.loads(entry.payload)
    except ValueError:
        return {"unreadable": entry.payload}
    return payload if isinstance(payload, dict) else {"unreadable": entry.payload}


@dataclass
class AttemptDetail:
    attempt: CallAttempt
    destination: str
    decision: dict | None = None  #: ``decision_view`` of its decision row
    decision_row: int | None = None
    outcomes: list[tuple[AuditEntry, dict]] = field(default_factory=list)
    answer_seconds: float | None = None


@dataclass
class CallDetail:
    call: Call
    attempts: list[AttemptDetail]
    other_rows: list[tuple[AuditEntry, dict]]  #: rows not tied to an attempt (a call-back)
    rows: list[AuditEntry]
    checks: list[audit.RowCheck]

    @property
    def caller(self) -> str:
        return masked(self.call.caller_last_four)

    @property
    def broken(self) -> list[audit.RowCheck]:
        return [check for check in self.checks if not check.intact]


def call_detail(session: Session, call_id: int) -> CallDetail | None:
    call = session.get(Call, call_id)
    if call is None:
        return None
    rows = audit.rows_for_call(session, call.id)
    names = facility_names(session, [a.facility_id for a in call.attempts])
    times = answer_times(session, CallAttempt.call_id == call.id)
    details = {a.attempt_number: AttemptDetail(a, destination_name(a, names),
                                               answer_seconds=times.get(a.id))
               for a in call.attempts}
    others = []
    for row in rows:
        payload = parse_payload(row)
        detail = details.get(row.attempt_number)
        if detail is not None and row.kind == "decision" and detail.decision is None:
            detail.decision, detail.decision_row = decision_view(payload), row.id
        elif detail is not None and row.kind == "outcome":
            detail.outcomes.append((row, payload))
        else:
            others.append((row, payload))
    return CallDetail(call, list(details.values()), others, rows,
                      audit.check_rows(session, rows))


_SHOWN_ELSEWHERE = {
    "rule", "explanation", "candidates", "figures", "lost_reservations", "chosen_advertiser_id",
    "chosen_name", "pool_config_hash", "via", "caller_state", "state_signal", "decided_at",
    "number_kind", "pool_id", "chosen", "chosen_destination", "facility_name", "facility_id",
}


def decision_view(payload: dict) -> dict:
    """A decision row's payload (or a simulated decision) shaped for the decision table."""
    figures = payload.get("figures") or {}
    ratios = (figures.get("ratios") or {}) if isinstance(figures, dict) else {}
    chosen_id = payload.get("chosen_advertiser_id")
    candidates = []
    for candidate in payload.get("candidates") or []:
        if not isinstance(candidate, dict):
            continue
        advertiser_id = candidate.get("advertiser_id")
        candidates.append({
            **candidate,
            "figures": candidate.get("figures") or {},
            "reasons": list(candidate.get("reasons") or []),
            "chosen": advertiser_id is not None and advertiser_id == chosen_id,
            "ratio": ratios.get(str(advertiser_id)),
        })
    if payload.get("chosen_name"):
        chosen = f"{payload['chosen_name']} (advertiser #{chosen_id})"
    elif payload.get("chosen_destination") == "samhsa":
        chosen = SAMHSA_NAME
    elif payload.get("rule") == "facility_number":
        chosen = f"{payload.get('facility_name')} (facility #{payload.get('facility_id')})"
    else:
        chosen = None
    names = {c.get("advertiser_id"): c.get("name") for c in candidates}
    lost = [{"advertiser_id": key, "name": names.get(int(key)) if str(key).isdigit() else None,
             "reason": reason}
            for key, reason in (payload.get("lost_reservations") or {}).items()]
    return {
        "rule": payload.get("rule"),
        "explanation": payload.get("explanation"),
        "chosen": chosen,
        "via": payload.get("via"),
        "number_kind": payload.get("number_kind"),
        "pool_id": payload.get("pool_id"),
        "pool_config_hash": payload.get("pool_config_hash"),
        "caller_state": payload.get("caller_state"),
        "state_signal": payload.get("state_signal"),
        "decided_at": payload.get("decided_at"),
        "figures": figures if isinstance(figures, dict) else {},
        "candidates": candidates,
        "lost": lost,
        "other": {k: v for k, v in payload.items() if k not in _SHOWN_ELSEWHERE},
    }
