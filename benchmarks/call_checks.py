"""What the database must show after calls were played against the real app: read-only checks.

Every call played is recorded once and closed, with the legs the caller dialled (same numbers,
same order) and the outcome the caller lived through; no leg is left live; every leg has exactly
one routing decision and at most one outcome in the audit trail (nothing routed or counted twice);
the day and month counters equal the legs that count; replaying the audit chain in order, no
advertiser ever had more live legs than its concurrent cap, nor more calls counted in a day or a
month than its caps; call-back requests hold the caller's number only encrypted (and it decrypts
to the number the caller sent); ``audit.verify`` finds the chain intact.

Each check returns a list of problems (empty: it passed). ``verify`` runs them all and prints a
summary. A played call is any object with ``destinations`` (the numbers dialled, in order) and,
optionally, ``outcome`` (the ``Call.outcome`` it must end with; None: not checked).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from finder.calls import audit
from finder.calls.callbacks import reveal_number
from finder.calls.models import (
    Advertiser,
    AdvertiserUsageCounter,
    AttemptStatus,
    AuditEntry,
    Call,
    CallAttempt,
    CallbackRequest,
    CallStatus,
)

LIVE = (AttemptStatus.RESERVED, AttemptStatus.BRIDGED)
#: Legs that ended through ``finish_attempt``: each has exactly one outcome row.
FINISHED = (AttemptStatus.COMPLETED, AttemptStatus.FAILED)


@dataclass
class Facts:
    """Everything the checks read, read once."""

    calls: dict[str, Call]
    attempts: list[CallAttempt]
    advertisers: dict[int, Advertiser]

    @classmethod
    def read(cls, session: Session) -> Facts:
        return cls(
            calls={c.call_sid: c for c in session.execute(sa.select(Call)).scalars()},
            attempts=list(session.execute(
                sa.select(CallAttempt).order_by(CallAttempt.call_id, CallAttempt.attempt_number)
            ).scalars()),
            advertisers={a.id: a for a in session.execute(sa.select(Advertiser)).scalars()},
        )


def calls_recorded(facts: Facts, played: Mapping[str, object | None]) -> list[str]:
    """One closed call per CallSid played, with the legs dialled (numbers and order) and the
    outcome the caller heard. ``played`` maps each CallSid to its record (None: only recorded
    and closed are checked)."""
    legs = defaultdict(list)
    for attempt in facts.attempts:
        legs[attempt.call_id].append(attempt.dialed_number)
    problems = []
    for sid, record in played.items():
        call = facts.calls.get(sid)
        if call is None:
            problems.append(f"{sid}: no call recorded")
            continue
        if call.status != CallStatus.COMPLETED or call.ended_at is None:
            problems.append(f"{sid}: still {call.status} (ended_at {call.ended_at})")
        if record is None:
            continue
        dialled = list(record.destinations)
        if legs[call.id] != dialled:
            problems.append(f"{sid}: {len(legs[call.id])} legs recorded {legs[call.id]}, "
                            f"{len(dialled)} dialled {dialled}")
        expected = getattr(record, "outcome", None)
        if expected is not None and call.outcome != expected:
            problems.append(f"{sid}: outcome {call.outcome!r}, the caller lived {expected!r}")
    return problems


def no_live_legs(facts: Facts, *, allow_expired: bool = False) -> list[str]:
    """After every call ended, no leg is still live (and none had to expire, unless allowed)."""
    problems = []
    live = [a.id for a in facts.attempts if a.status in LIVE]
    if live:
        problems.append(f"{len(live)} legs still live after every call ended (ids {live[:10]})")
    expired = [a.id for a in facts.attempts if a.status == AttemptStatus.EXPIRED]
    if expired and not allow_expired:
        problems.append(f"{len(expired)} legs expired although every callback was sent "
                        f"(ids {expired[:10]})")
    return problems


def _audit_rows(session: Session) -> list:
    return session.execute(
        sa.select(AuditEntry.id, AuditEntry.call_id, AuditEntry.attempt_number, AuditEntry.kind,
                  AuditEntry.payload).order_by(AuditEntry.id)
    ).all()


def each_step_once(session: Session, facts: Facts) -> list[str]:
    """Every leg has exactly one decision row, every finished leg exactly one outcome row, no
    leg more than one; no audit row names a leg that does not exist."""
    decisions, outcomes = Counter(), Counter()
    for _id, call_id, attempt_number, kind, _payload in _audit_rows(session):
        if attempt_number is None:
            continue
        (decisions if kind == "decision" else outcomes)[(call_id, attempt_number)] += 1
    problems = []
    legs = {(a.call_id, a.attempt_number): a for a in facts.attempts}
    for key, attempt in legs.items():
        if decisions[key] != 1:
            problems.append(f"leg {attempt.id} (call {key[0]}, attempt {key[1]}): "
                            f"{decisions[key]} decision rows")
        if outcomes[key] > 1 or (attempt.status in FINISHED and outcomes[key] != 1):
            problems.append(f"leg {attempt.id} ({attempt.status}): {outcomes[key]} outcome rows")
    strays = [key for key in (decisions | outcomes) if key not in legs]
    if strays:
        problems.append(f"{len(strays)} audit rows name legs that do not exist: {strays[:5]}")
    return problems


def counters_match(session: Session, advertisers: dict, attempts: list) -> list[str]:
    """The day and month counters equal the legs that count, and stay within the caps."""
    truth = defaultdict(int)
    for attempt in attempts:
        if attempt.advertiser_id and attempt.counted_on:
            truth[(attempt.advertiser_id, "day", attempt.counted_on)] += 1
            truth[(attempt.advertiser_id, "month", attempt.counted_on.replace(day=1))] += 1
    problems = []
    counters = session.execute(sa.select(AdvertiserUsageCounter)).scalars()
    seen = set()
    for counter in counters:
        key = (counter.advertiser_id, counter.period, counter.starts_on)
        seen.add(key)
        advertiser = advertisers[counter.advertiser_id]
        cap = advertiser.daily_cap if counter.period == "day" else advertiser.monthly_cap
        if counter.calls != truth[key]:
            problems.append(f"counter {key} holds {counter.calls}, {truth[key]} legs count")
        if cap is not None and counter.calls > cap:
            problems.append(f"counter {key} holds {counter.calls}, over its cap {cap}")
    problems += [f"no counter for {key}" for key in truth if key not in seen]
    return problems


def _local_day(advertiser: Advertiser, moment: datetime) -> date:
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(advertiser.timezone)).date()


def replay_caps(session: Session, advertisers: dict, attempts: list) -> list[str]:
    """Walk the audit chain in order: at no moment more live legs than a concurrent cap, nor
    more calls counted in a local day or month than the daily or monthly cap.

    A decision for an advertiser's leg takes a live slot and counts a call (in the advertiser's
    own day and month at the leg's start); its outcome frees the slot, and gives the call back
    when the leg was not bridged (``finish_attempt`` releases it). Legs that expired change no
    row, so with expired legs the replay can only overstate what was live.
    """
    leg_of = {(a.call_id, a.attempt_number): a for a in attempts}
    live, day, month = Counter(), Counter(), Counter()
    problems = []
    for entry_id, call_id, attempt_number, kind, payload in _audit_rows(session):
        attempt = leg_of.get((call_id, attempt_number))
        if attempt is None or attempt.advertiser_id is None:
            continue
        advertiser = advertisers[attempt.advertiser_id]
        local = _local_day(advertiser, attempt.started_at)
        keys = ((day, (advertiser.id, local), advertiser.daily_cap, "daily"),
                (month, (advertiser.id, local.replace(day=1)), advertiser.monthly_cap, "monthly"))
        if kind != "decision":
            live[advertiser.id] -= 1
            if not json.loads(payload).get("bridged"):
                for counts, key, _cap, _name in keys:
                    counts[key] -= 1
            continue
        # Only a decision adds: each excess is reported once, on the row that made it.
        live[advertiser.id] += 1
        for counts, key, _cap, _name in keys:
            counts[key] += 1
        cap = advertiser.concurrent_cap
        if cap is not None and live[advertiser.id] > cap:
            problems.append(f"row {entry_id}: advertiser {advertiser.id} has "
                            f"{live[advertiser.id]} live legs, over its concurrent cap {cap}")
        for counts, key, cap, name in keys:
            if cap is not None and counts[key] > cap:
                problems.append(f"row {entry_id}: advertiser {advertiser.id} has {counts[key]} "
                                f"calls counted for {key[1]}, over its {name} cap {cap}")
    return problems


def callbacks_stored(session: Session, facts: Facts, expected: Mapping[str, str],
                     key: str | bytes) -> list[str]:
    """One call-back request per call that asked with a number (``expected``: CallSid to the
    E.164 number sent), none for other calls; the number is stored only as a Fernet token that
    decrypts, with ``key``, to the number sent, plus its last four digits."""
    problems = []
    by_call = {c.id: sid for sid, c in facts.calls.items()}
    requests = list(session.execute(sa.select(CallbackRequest)).scalars())
    found = set()
    for request in requests:
        sid = by_call.get(request.call_id)
        found.add(sid)
        if sid not in expected:
            problems.append(f"call-back request {request.id} for {sid}, which did not ask")
            continue
        number = expected[sid]
        if number in request.number_encrypted or number[2:] in request.number_encrypted:
            problems.append(f"call-back request {request.id} stores the number in the clear")
        if reveal_number(request, key) != number:
            problems.append(f"call-back request {request.id} decrypts to another number")
        if request.last_four != number[-4:]:
            problems.append(f"call-back request {request.id}: last four {request.last_four!r}")
    problems += [f"{sid}: asked for a call back, no request stored"
                 for sid in expected if sid not in found]
    return problems


def verify(url: str, played: Mapping[str, object | None], *,
           callbacks: Mapping[str, str] | None = None, callback_key: str | bytes | None = None,
           allow_expired: bool = False) -> list[str]:
    """Run every check against the database at ``url``; print a summary; return the problems."""
    engine = sa.create_engine(url)
    problems: list[str] = []
    try:
        with Session(engine) as session:
            facts = Facts.read(session)
            problems += calls_recorded(facts, played)
            problems += no_live_legs(facts, allow_expired=allow_expired)
            problems += each_step_once(session, facts)
            problems += counters_match(session, facts.advertisers, facts.attempts)
            problems += replay_caps(session, facts.advertisers, facts.attempts)
            if callbacks is not None:
                problems += callbacks_stored(session, facts, callbacks, callback_key)
            chain = audit.verify(session)
            if not chain.intact:
                problems.append(f"audit chain broken at row {chain.first_broken_id}: "
                                f"{chain.problem}")
            print(f"  checked: {len(played)} calls played, {len(facts.calls)} recorded in all, "
                  f"{len(facts.attempts)} legs ({destinations(facts)}); audit chain "
                  f"{'intact' if chain.intact else 'BROKEN'} over {chain.rows_checked} rows; "
                  f"{binding(session)}")
            if callbacks is not None:
                print(f"  call-back requests: {len(callbacks)} asked with a number, each stored "
                      f"once as a Fernet token that decrypts to it"
                      + ("" if not any("call-back" in p or "call back" in p for p in problems)
                         else " (NOT ALL: see problems)"))
            print("  " + ("every check passed" if not problems
                          else f"{len(problems)} problems, first: {problems[0]}"))
    finally:
        engine.dispose()
    return problems


def destinations(facts: Facts) -> str:
    """Legs per destination: advertisers by the letter before their "(fictional)", else kind."""
    names = Counter(
        facts.advertisers[a.advertiser_id].name.split()[-2] if a.advertiser_id
        else a.destination_kind
        for a in facts.attempts)
    return ", ".join(f"{name} {count}" for name, count in sorted(names.items()))


def binding(session: Session) -> str:
    """How often caps bound: the verdicts per cap in the decisions, and reservations lost to
    another call between the snapshot and the reservation."""
    refused, lost = Counter(), 0
    payloads = session.execute(
        sa.select(AuditEntry.payload).where(AuditEntry.kind == "decision")).scalars()
    for text in payloads:
        payload = json.loads(text)
        lost += len(payload.get("lost_reservations") or {})
        for candidate in payload.get("candidates", ()):
            for reason in candidate.get("reasons", ()):
                if reason.endswith("_cap_reached"):
                    refused[reason] += 1
    verdicts = ", ".join(f"{count} {reason}" for reason, count in sorted(refused.items()))
    return f"cap verdicts in the decisions: {verdicts or 'none'}; {lost} lost reservations"
