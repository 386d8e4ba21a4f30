"""Where a call goes: opens the call, picks its destination, reserves caps, records the decision.

This is the one place a call's destination is chosen. The choice among advertisers is the pure
policy in ``policy.py``; this module feeds it the pool from the database, reserves the chosen
advertiser's caps atomically, and appends every decision and outcome to the audit chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from finder.calls import audit, locks, routing_config
from finder.calls.caller import caller_state, identify, normalize
from finder.calls.eligibility import EligibilityRules
from finder.calls.models import (
    AdvertiserPool,
    AttemptStatus,
    Call,
    CallAttempt,
    CallStatus,
    NumberKind,
    TrackingNumber,
)
from finder.calls.policy import CallerContext, Decision, decide
from finder.calls.routing_config import PoolConfig
from finder.calls.usage import LIVE, local_day, release, reserve, usage_for
from finder.geo.models import ZipCode

#: SAMHSA's National Helpline: free, confidential, 24/7. Every dead end connects here.
SAMHSA_HELPLINE = "+18006624357"
BRIDGED_STATUSES = {"completed", "answered"}
#: A leg's status callback events meaning the destination picked up (Twilio reports an
#: answered leg as "in-progress"; "answered" is the event's own name).
ANSWERED_EVENTS = frozenset({"answered", "in-progress"})


@dataclass(frozen=True)
class RoutingSettings:
    #: Seconds a destination rings before it counts as not answering.
    ring_seconds: int = 20
    #: A leg with no callback for this long is treated as over (its callback was lost).
    leg_max_seconds: int = 4 * 3600


@dataclass(frozen=True)
class Leg:
    """One destination to dial now."""

    attempt: CallAttempt
    number: str  #: E.164, without extension
    send_digits: str | None = None  #: an extension to key in once answered
    announce_name: str | None = None  #: said to the caller before connecting
    decision: Decision | None = None


def _split_extension(phone: str) -> tuple[str, str | None]:
    number, _, extension = phone.partition(";ext=")
    return number, extension or None


def _in_service(number: str | None) -> sa.ColumnElement[bool]:
    """The tracking number ``number`` (E.164), unless retired."""
    return sa.and_(TrackingNumber.number == number, TrackingNumber.retired_at.is_(None))


def find_tracking_number(session: Session, to_number: str | None) -> TrackingNumber | None:
    number = normalize(to_number)
    if number is None:
        return None
    return session.execute(sa.select(TrackingNumber).where(_in_service(number))
                           ).scalar_one_or_none()


def open_call(session: Session, *, call_sid: str, to_number: str, from_number: str | None,
              twilio_from_state: str | None, hash_key: bytes, now: datetime,
              flush: bool = True) -> Call:
    """The call row for ``call_sid``, created on its first webhook (the caller's number hashed).

    One query finds both the number called and a call already recorded for ``call_sid``. With
    ``flush`` False a new call is written with its first leg (``call.id`` is None until then),
    so its outcome, when set before, is written with it rather than by a second statement.
    """
    already = sa.select(Call.id).where(Call.call_sid == call_sid).scalar_subquery()
    one_row = sa.select(sa.literal(1).label("one")).subquery()
    tracking, existing = session.execute(
        sa.select(TrackingNumber, already).select_from(one_row)
        .outerjoin(TrackingNumber, _in_service(normalize(to_number)))
    ).one()
    if existing is not None:
        return session.get(Call, existing)
    identity = identify(from_number, hash_key)
    state, signal = caller_state(from_number, None, twilio_from_state)
    call = Call(
        call_sid=call_sid,
        tracking_number=tracking,
        to_number=normalize(to_number) or (to_number or "")[:20],
        number_kind=str(tracking.kind) if tracking else None,
        caller_hash=identity.number_hash,
        caller_last_four=identity.last_four,
        caller_state=state,
        state_signal=signal,
        started_at=now,
        attempts=[],  # a new call has no legs: nothing to load
    )
    session.add(call)
    if flush:
        session.flush()
    return call


def state_for_zip(session: Session, digits: str) -> str | None:
    if len(digits) != 5 or not digits.isdigit():
        return None
    row = session.get(ZipCode, digits)
    return row.state if row and row.zip_type != "MILITARY" else None


def _new_attempt(session: Session, call: Call, now: datetime, settings: RoutingSettings,
                 **fields) -> CallAttempt:
    attempt = CallAttempt(
        call=call,
        attempt_number=len(call.attempts) + 1,
        status=AttemptStatus.RESERVED,
        started_at=now,
        expires_at=now + timedelta(seconds=settings.ring_seconds + 60),
        **fields,
    )
    session.add(attempt)
    session.flush()
    return attempt


def ring_facility(session: Session, call: Call, now: datetime,
                  settings: RoutingSettings) -> Leg | None:
    """A facility number rings that facility's own intake number and no one else."""
    facility = call.tracking_number.facility
    phone = facility.intake_phone or facility.phone
    payload = {
        "rule": "facility_number",
        "number_kind": NumberKind.FACILITY.value,
        "facility_id": facility.id,
        "facility_name": facility.name1,
        "state_signal": call.state_signal,
        "caller_state": call.caller_state,
    }
    if not phone:
        return None
    number, extension = _split_extension(phone)
    attempt = _new_attempt(session, call, now, settings, destination_kind="facility",
                           facility_id=facility.id, dialed_number=number)
    audit.append(session, call_id=call.id, attempt_number=attempt.attempt_number,
                 kind="decision", payload={**payload, "chosen": {"facility_id": facility.id,
                                                                 "number": number}})
    return Leg(attempt, number, send_digits=extension)


def pool_for(session: Session, call: Call, forward_pool: str | None) -> PoolConfig | None:
    """The helpline's own pool, or for a forwarded facility call the configured forward pool
    (by name, else the oldest pool), as the routing configuration in force has it."""
    config = routing_config.current(session)
    tracking = call.tracking_number
    if tracking is not None and tracking.pool_id is not None:
        return config.pool(tracking.pool_id)
    return config.first(forward_pool or None)


def previous_advertiser(session: Session, call: Call, window_days: int, now: datetime, *,
                        pool_turn: int | None = None) -> int | None:
    """The advertiser this caller was last connected to within the window, if any.

    ``pool_turn``: a pool whose turn (``locks.pool_turn``) to take in the same statement.
    """
    lock = locks.pool_lock(pool_turn) if pool_turn is not None else None
    if call.caller_hash is None:
        if lock is not None:
            locks.pool_turn(session, pool_turn)
        return None
    return locks.scalar_taking(session, lock, (
        sa.select(CallAttempt.advertiser_id)
        .join(Call, Call.id == CallAttempt.call_id)
        .where(
            Call.caller_hash == call.caller_hash,
            Call.id != call.id,
            Call.started_at >= now - timedelta(days=window_days),
            CallAttempt.advertiser_id.is_not(None),
            CallAttempt.status.in_((AttemptStatus.BRIDGED, AttemptStatus.COMPLETED)),
        )
        .order_by(CallAttempt.started_at.desc())
        .limit(1)
    ))


def route_helpline(session: Session, call: Call, pool: PoolConfig | AdvertiserPool | None,
                   now: datetime, settings: RoutingSettings, *, keyed_zip: str | None = None,
                   via: str = "helpline") -> Leg:
    """Choose, reserve and record the next advertiser; the SAMHSA helpline when there is none.
    The call's outcome says which: ``routed_advertiser`` or ``routed_samhsa``.

    ``pool``: as ``pool_for`` gives it, or a pool's rows (read as they are in the session).
    """
    if isinstance(pool, AdvertiserPool):
        pool = PoolConfig.of(pool)
    if keyed_zip:
        zip_state = state_for_zip(session, keyed_zip)
        if zip_state:
            call.caller_state, call.state_signal = zip_state, "zip"
    tried = frozenset(a.advertiser_id for a in call.attempts if a.advertiser_id is not None)
    advertisers = pool.advertisers if pool else ()
    base = {
        "via": via,
        "number_kind": call.number_kind,
        "pool_id": pool.id if pool else None,
        "pool_config_hash": pool.config_hash if pool else None,
    }
    if pool is None or len(tried) >= pool.max_attempts:
        reason = "no pool is configured" if pool is None else (
            f"{len(tried)} advertisers were tried, the pool's limit")
        call.outcome = "routed_samhsa"
        return samhsa_leg(session, call, now, settings, {**base, "rule": "attempts_exhausted"
                           if pool else "no_pool", "explanation": f"The SAMHSA helpline "
                           f"answers: {reason}."})
    # The pool's calls take turns from here to the commit (the turn is taken with the caller's
    # history): usage read, decision and reservation then agree, and a reservation is rarely
    # lost to a call routed at the same moment.
    previous = previous_advertiser(session, call, pool.repeat_window_days, now, pool_turn=pool.id)
    caller = CallerContext(call.caller_state, call.state_signal, previous, tried)
    rules = EligibilityRules(min_answer_rate=pool.min_answer_rate)
    lost: dict[str, str] = {}
    # Usage and counters are not the session's objects: nothing needs flushing before them, and
    # a new call's row is then written once, with its leg and outcome.
    with session.no_autoflush:
        while True:
            usage = usage_for(session, advertisers, now)
            decision = decide(list(advertisers), usage, caller, now, rules)
            if decision.chosen is None:
                break
            chosen = decision.chosen
            known = usage.get(chosen.id)
            refused = reserve(session, chosen, now, live=known.live_legs if known else None)
            if refused is None:
                break
            # Another call took the last of a cap between the snapshot and the reservation.
            lost[str(chosen.id)] = str(refused)
            caller = CallerContext(caller.state, caller.state_signal,
                                   caller.previous_advertiser_id,
                                   caller.already_tried | {chosen.id})
    payload = {**base, **decision.as_dict(), "lost_reservations": lost}
    # Before the leg is written: a new call's row is then written once, with its outcome.
    call.outcome = "routed_samhsa" if decision.chosen is None else "routed_advertiser"
    if decision.chosen is None:
        return samhsa_leg(session, call, now, settings, payload)
    number, extension = _split_extension(chosen.phone)
    attempt = _new_attempt(session, call, now, settings, destination_kind="advertiser",
                           advertiser_id=chosen.id, dialed_number=number,
                           counted_on=local_day(chosen, now))
    audit.append(session, call_id=call.id, attempt_number=attempt.attempt_number,
                 kind="decision", payload=payload)
    return Leg(attempt, number, extension, announce_name=chosen.name, decision=decision)


def samhsa_leg(session: Session, call: Call, now: datetime, settings: RoutingSettings,
               payload: dict) -> Leg:
    """Connect the caller to the SAMHSA National Helpline, recorded like any other leg.

    ``payload`` says why (at least ``rule`` and ``explanation``).
    """
    payload = {"number_kind": call.number_kind, "state_signal": call.state_signal,
               "caller_state": call.caller_state, **payload}
    attempt = _new_attempt(session, call, now, settings, destination_kind="samhsa",
                           dialed_number=SAMHSA_HELPLINE)
    audit.append(session, call_id=call.id, attempt_number=attempt.attempt_number,
                 kind="decision", payload={**payload, "chosen_destination": "samhsa"})
    return Leg(attempt, SAMHSA_HELPLINE, announce_name="the SAMHSA National Helpline")


def locked_leg(session: Session, attempt_id: int) -> CallAttempt | None:
    """A leg and its call in one query, the leg's row locked until the commit (as
    ``finish_attempt`` locks it), or None."""
    return session.execute(
        sa.select(CallAttempt).options(joinedload(CallAttempt.call, innerjoin=True))
        .where(CallAttempt.id == attempt_id)
        .with_for_update(of=CallAttempt)
    ).scalar_one_or_none()


def finish_attempt(session: Session, attempt: CallAttempt, *, dial_call_status: str | None,
                   duration: int | None, now: datetime, locked: bool = False) -> bool:
    """Record how a leg ended; True when the caller was bridged. Idempotent.

    ``locked``: the leg was read with ``locked_leg`` in this transaction, so its row is locked
    and its status current.
    """
    if attempt.id is not None and not locked:
        # Twilio's dial action and status callbacks can finish one leg at the same moment: lock
        # the leg's row and read its status again (over any unflushed change), so the leg is
        # released and recorded only once. The row is locked before the pool's turn is taken.
        with session.no_autoflush:
            session.refresh(attempt, ["status", "counted_on"], with_for_update=True)
    if attempt.status not in LIVE and attempt.status != AttemptStatus.EXPIRED:
        return attempt.status == AttemptStatus.COMPLETED
    status = (dial_call_status or "failed").lower()
    bridged = status in BRIDGED_STATUSES
    attempt.dial_call_status = status
    attempt.duration_seconds = duration
    attempt.ended_at = now
    if bridged:
        attempt.status = AttemptStatus.COMPLETED
    else:
        attempt.status = AttemptStatus.FAILED
        release(session, attempt)
    audit.append(session, call_id=attempt.call_id, attempt_number=attempt.attempt_number,
                 kind="outcome", payload={"dial_call_status": status, "bridged": bridged,
                                          "duration_seconds": duration,
                                          "destination_kind": attempt.destination_kind,
                                          "advertiser_id": attempt.advertiser_id,
                                          "facility_id": attempt.facility_id})
    return bridged


def mark_leg(session: Session, attempt: CallAttempt, *, event: str, leg_sid: str | None,
             now: datetime, settings: RoutingSettings) -> None:
    """A status callback of the outgoing leg: answered legs stay live until they end."""
    if leg_sid:
        attempt.leg_sid = leg_sid
    if event not in ANSWERED_EVENTS:
        return
    if attempt.answered_at is None:
        attempt.answered_at = now
    if attempt.status == AttemptStatus.RESERVED:
        attempt.status = AttemptStatus.BRIDGED
        attempt.expires_at = now + timedelta(seconds=settings.leg_max_seconds)


def close_call(session: Session, call: Call, *, duration: int | None, now: datetime) -> None:
    """The caller is gone: every leg still counted as live is over too, then the call."""
    for attempt in call.attempts:
        if attempt.status in LIVE:
            finished = "completed" if attempt.status == AttemptStatus.BRIDGED else "canceled"
            finish_attempt(session, attempt, dial_call_status=finished, duration=None, now=now)
    end_call(call, duration=duration, now=now)


def end_call(call: Call, *, duration: int | None, now: datetime) -> None:
    if call.status == CallStatus.COMPLETED:
        return
    call.status = CallStatus.COMPLETED
    call.ended_at = now
    call.duration_seconds = duration


def expire_stale_legs(session: Session, now: datetime) -> int:
    """Close legs whose callbacks never came (they already stopped counting as live).

    Legs another step holds are skipped (PostgreSQL ``SKIP LOCKED``): their own call is
    finishing them, and this never waits for another call's rows.
    """
    stale = (
        sa.select(CallAttempt.id)
        .where(CallAttempt.status.in_(LIVE), CallAttempt.expires_at <= now)
        .with_for_update(skip_locked=True)
    )
    result = session.execute(
        sa.update(CallAttempt)
        .where(CallAttempt.id.in_(stale.scalar_subquery()))
        .values(status=AttemptStatus.EXPIRED, ended_at=now)
    )
    return result.rowcount
