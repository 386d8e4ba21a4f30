"""The voice webhook steps: each turns one Twilio request into routing calls and TwiML, once.

Every step is keyed by (CallSid, step). The handler first claims a ``WebhookReceipt`` row (an
INSERT, which on SQLite also takes the write lock, so everything read after it is stable), takes
its call's turn (``locks.call_turn``: the steps of one call never overlap, steps of different
calls do), does the work, stores the TwiML it answered in the receipt and commits. A Twilio
retry of the same step finds the receipt and gets the same TwiML back without routing or
counting again. Any failure rolls back and answers the static SAMHSA fallback: a call never ends
in silence, and the call is still recorded, with the failure, when the database allows.

Plain module: the request's form and query come in as mappings, URLs through ``VoiceContext.url``.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from finder.calls import audit, locks, twiml
from finder.calls.callbacks import create_callback_request
from finder.calls.caller import redact
from finder.calls.models import (
    AdvertiserPool,
    AttemptStatus,
    Call,
    CallAttempt,
    CallbackRequest,
    CallStatus,
    NumberKind,
    WebhookReceipt,
)
from finder.calls.routing import (
    Leg,
    RoutingSettings,
    end_call,
    expire_stale_legs,
    finish_attempt,
    mark_leg,
    open_call,
    pool_for,
    ring_facility,
    route_helpline,
    samhsa_leg,
)

logger = logging.getLogger(__name__)

#: Parent-call statuses meaning the caller is gone: nothing more is routed for them.
CALL_OVER = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
#: SAMHSA answers through a queue; give it longer than an advertiser to pick up.
SAMHSA_RING_SECONDS = 60
#: Twilio's ceiling for <Dial timeLimit> (4 hours).
MAX_DIAL_SECONDS = 14400
FACILITY_MENU = "facility-unanswered"
ZIP = "zip"
#: How often (by the routing clock) a process closes legs whose callbacks never came. They stop
#: counting as live at their expiry anyway; closing them is bookkeeping, not a cap.
EXPIRY_INTERVAL = timedelta(seconds=15)
_last_expiry: dict[str, datetime] = {}
_expiry_lock = threading.Lock()


@dataclass(frozen=True)
class VoiceContext:
    now: datetime
    settings: RoutingSettings
    hash_key: bytes
    callback_key: str
    forward_pool: str | None
    #: ``url("dial_result", attempt=7)`` → the URL of a voice endpoint, for Twilio to call back.
    url: Callable[..., str]
    #: Wall-clock time (``time.time()``) after which Twilio has stopped waiting for the answer
    #: and played the fallback instead; None: no deadline.
    deadline: float | None = None


class DeadlinePassed(Exception):
    """The answer would come after Twilio stopped waiting: nothing the step did may stand."""


@dataclass(frozen=True)
class Reply:
    twiml: str | None  #: None: nothing to say (204), as for status callbacks


FALLBACK = Reply(twiml.FALLBACK_TWIML)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


# -- idempotency ----------------------------------------------------------------------------

_RECEIPTS = WebhookReceipt.__table__


@functools.cache
def _claim_statement(dialect_name: str):
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(_RECEIPTS)
        .values(call_sid=sa.bindparam("call_sid"), step=sa.bindparam("step"), response="",
                created_at=sa.bindparam("created_at"))
        .on_conflict_do_nothing()
        .returning(_RECEIPTS.c.id)
    )


_ANSWERED = (
    sa.update(_RECEIPTS)
    .where(_RECEIPTS.c.call_sid == sa.bindparam("receipt_sid"),
           _RECEIPTS.c.step == sa.bindparam("receipt_step"))
    .values(response=sa.bindparam("answer"))
)


def _claim(session: Session, call_sid: str, step: str, now: datetime) -> bool:
    """Insert the receipt row for this step; False when another request already holds it."""
    claimed = session.execute(_claim_statement(session.get_bind().dialect.name),
                              {"call_sid": call_sid, "step": step, "created_at": now}).first()
    return claimed is not None


def _stored(session: Session, call_sid: str, step: str) -> Reply:
    session.rollback()
    stored = session.execute(
        sa.select(WebhookReceipt.response).where(
            WebhookReceipt.call_sid == call_sid, WebhookReceipt.step == step
        )
    ).scalar_one_or_none()
    if stored is None:  # the first request rolled back meanwhile: it answered the fallback
        return FALLBACK
    return Reply(stored or None)


def _safe_rollback(session: Session) -> None:
    try:
        session.rollback()
    except Exception:  # noqa: BLE001 - the database may be gone; the answer must still go out
        logger.error("Rollback failed after a voice webhook error")


def _expire_now_and_then(session: Session, now: datetime) -> None:
    """Close stale legs at most every ``EXPIRY_INTERVAL``, in a transaction of their own."""
    database = session.get_bind().url.render_as_string()
    with _expiry_lock:
        last = _last_expiry.get(database)
        if last is not None and last <= now < last + EXPIRY_INTERVAL:
            return
        _last_expiry[database] = now
    if expire_stale_legs(session, now):
        session.commit()
    else:
        session.rollback()


def _check_deadline(ctx: VoiceContext) -> None:
    if ctx.deadline is not None and time.time() > ctx.deadline:
        raise DeadlinePassed(f"{time.time() - ctx.deadline:.1f} s past the answer's deadline")


def _record_fallback(session: Session, ctx: VoiceContext, form: Mapping[str, str],
                     call_sid: str, step: str, error: BaseException) -> None:
    """Keep a trace of a step answered by the fallback: the call, and why, in the audit chain.

    Not when the database itself failed (unreachable, hung, locked, broken): trying again would
    keep the caller waiting a second time. Such a call is recorded by its final status callback.
    """
    if isinstance(error, sa.exc.DBAPIError):
        return
    try:
        call = session.execute(
            sa.select(Call).where(Call.call_sid == call_sid)
        ).scalar_one_or_none()
        if call is None and step == "incoming":
            call = open_call(session, call_sid=call_sid, to_number=form.get("To") or "",
                             from_number=form.get("From"),
                             twilio_from_state=form.get("FromState"), hash_key=ctx.hash_key,
                             now=ctx.now)
            call.outcome = "fallback_samhsa"
        if call is None:
            return
        audit.append(session, call_id=call.id, attempt_number=None, kind="outcome",
                     payload={"event": "fallback_answered", "step": step,
                              "error": type(error).__name__,
                              "explanation": (
                                  "The answer was not ready before Twilio's deadline"
                                  if isinstance(error, DeadlinePassed) else "The step failed")
                              + "; the caller heard the static answer connecting to the SAMHSA "
                                "helpline."})
        session.commit()
    except Exception:  # noqa: BLE001 - the database may be gone; the answer must still go out
        _safe_rollback(session)
        logger.error("Could not record the fallback answer to CallSid %s, step %s", call_sid,
                     step)


def run_step(session: Session, ctx: VoiceContext, form: Mapping[str, str], step: str,
             work: Callable[[], str | None], *, call_of_step: str | None = None,
             speaks: bool = True) -> Reply:
    """Answer one webhook step exactly once per (CallSid, step); never raise.

    ``call_of_step`` is the CallSid of the call the step belongs to when it is not the request's
    own (a leg's status callback carries the leg's CallSid): the steps of one call take turns.
    A step that ``speaks`` (its TwiML is what the caller hears) must be ready before
    ``ctx.deadline``; one that would be late is rolled back and recorded as the fallback the
    caller heard instead, so the record never claims a routing the caller did not get.
    """
    call_sid = form.get("CallSid")
    if not call_sid:
        logger.warning("Voice webhook %s without a CallSid; answered the fallback", step)
        return FALLBACK
    call_sid, step = call_sid[:64], step[:120]
    with locks.writer_turn(session):
        try:
            if speaks:
                _check_deadline(ctx)
            _expire_now_and_then(session, ctx.now)
            if not _claim(session, call_sid, step, ctx.now):
                return _stored(session, call_sid, step)
            locks.call_turn(session, (call_of_step or call_sid)[:64])
            answer = work()
            session.execute(_ANSWERED, {"receipt_sid": call_sid, "receipt_step": step,
                                        "answer": answer or ""})
            if speaks:
                _check_deadline(ctx)
            session.commit()
            return Reply(answer)
        except DeadlinePassed as late:
            _safe_rollback(session)
            logger.warning("Voice webhook step %s for CallSid %s was %s; rolled back and "
                           "answered the SAMHSA fallback", step, call_sid, late)
            _record_fallback(session, ctx, form, call_sid, step, late)
            return FALLBACK
        except Exception as error:  # noqa: BLE001 - Twilio must get a connecting answer
            _safe_rollback(session)
            logger.error("Voice webhook step %s failed; answered the SAMHSA fallback.\n%s",
                         step, redact(traceback.format_exc()))
            _record_fallback(session, ctx, form, call_sid, step, error)
            return FALLBACK


# -- lookups and TwiML helpers --------------------------------------------------------------

def _call(session: Session, call_sid: str) -> Call:
    call = session.execute(sa.select(Call).where(Call.call_sid == call_sid)).scalar_one_or_none()
    if call is None:
        raise LookupError(f"no call recorded for CallSid {call_sid}")
    return call


def _attempt_of(session: Session, call_sid: str, attempt_id: int | None) -> CallAttempt:
    attempt = session.get(CallAttempt, attempt_id) if attempt_id is not None else None
    if attempt is None or attempt.call.call_sid != call_sid:
        raise LookupError(f"attempt {attempt_id} is not a leg of CallSid {call_sid}")
    return attempt


def _dial(ctx: VoiceContext, leg: Leg) -> twiml.DialSpec:
    ring = ctx.settings.ring_seconds
    if leg.attempt.destination_kind == "samhsa":
        ring = max(ring, SAMHSA_RING_SECONDS)
    return twiml.DialSpec(
        number=leg.number,
        send_digits=leg.send_digits,
        action=ctx.url("dial_result", attempt=leg.attempt.id),
        status_callback=ctx.url("status", attempt=leg.attempt.id),
        ring_seconds=ring,
        # A leg never outlives the expiry that stops it counting as live.
        time_limit=min(ctx.settings.leg_max_seconds, MAX_DIAL_SECONDS),
    )


def _helpline_leg(session: Session, ctx: VoiceContext, call: Call, pool: AdvertiserPool | None,
                  *, before: list[str], via: str, keyed_zip: str | None = None,
                  after_no_answer: str | None = None) -> str:
    """Route to the next advertiser (or SAMHSA) and say who answers before ringing."""
    leg = route_helpline(session, call, pool, ctx.now, ctx.settings, keyed_zip=keyed_zip,
                         via=via)
    samhsa = leg.attempt.destination_kind == "samhsa"
    forwarded = call.number_kind == NumberKind.FACILITY.value
    if after_no_answer:
        line = twiml.failover_line(after_no_answer, None if samhsa else leg.announce_name)
    elif samhsa:
        line = twiml.nobody_available(forwarded)
    elif forwarded:
        line = twiml.forwarded_disclosure(leg.announce_name)
    else:
        line = twiml.advertiser_disclosure(leg.announce_name)
    call.outcome = "routed_samhsa" if samhsa else "routed_advertiser"
    return twiml.connect([*before, line], _dial(ctx, leg))


def _samhsa(session: Session, ctx: VoiceContext, call: Call, rule: str, line: str) -> str:
    """Say ``line`` and connect to the SAMHSA helpline as a recorded, audited leg."""
    leg = samhsa_leg(session, call, ctx.now, ctx.settings,
                     {"rule": rule, "explanation": line})
    return twiml.connect([line], _dial(ctx, leg))


def _facility_menu(ctx: VoiceContext, *, repeat: bool) -> str:
    retry = {"retry": 1} if repeat else {}
    return twiml.facility_unanswered_menu(
        ctx.url("gather", step=FACILITY_MENU, **retry),
        ctx.url("gather", step=FACILITY_MENU, no_input=1, **retry),
        repeat=repeat,
    )


# -- the steps ------------------------------------------------------------------------------

def incoming(session: Session, ctx: VoiceContext, form: Mapping[str, str]) -> Reply:
    return run_step(session, ctx, form, "incoming", lambda: _incoming(session, ctx, form))


def _incoming(session: Session, ctx: VoiceContext, form: Mapping[str, str]) -> str:
    call = open_call(session, call_sid=form["CallSid"], to_number=form.get("To") or "",
                     from_number=form.get("From"), twilio_from_state=form.get("FromState"),
                     hash_key=ctx.hash_key, now=ctx.now)
    tracking = call.tracking_number
    if tracking is None:
        # The To number is finder's own (never the caller's): operators need it to fix routing.
        logger.warning("Call to a number finder does not route: %s (CallSid %s); connected to "
                       "the SAMHSA helpline", call.to_number, call.call_sid)
        call.outcome = "unknown_number"
        return _samhsa(session, ctx, call, "unknown_number", twiml.UNKNOWN_NUMBER)
    if tracking.kind == NumberKind.FACILITY:
        leg = ring_facility(session, call, ctx.now, ctx.settings)
        if leg is None:
            call.outcome = "facility_no_phone"
            return _samhsa(session, ctx, call, "facility_no_phone", twiml.NO_FACILITY_PHONE)
        call.outcome = "routed_facility"
        return twiml.connect([], _dial(ctx, leg))
    pool = pool_for(session, call, ctx.forward_pool)
    if pool is not None and pool.ask_for_zip:
        zip_url = ctx.url("gather", step=ZIP)
        return twiml.ask_for_zip(zip_url, zip_url)
    return _helpline_leg(session, ctx, call, pool, before=[twiml.CRISIS], via="helpline")


def dial_result(session: Session, ctx: VoiceContext, form: Mapping[str, str],
                query: Mapping[str, str]) -> Reply:
    attempt_id = _int(query.get("attempt"))
    return run_step(session, ctx, form, f"dial-result:attempt={attempt_id}",
                    lambda: _dial_result(session, ctx, form, attempt_id))


def _dial_result(session: Session, ctx: VoiceContext, form: Mapping[str, str],
                 attempt_id: int | None) -> str:
    attempt = _attempt_of(session, form["CallSid"], attempt_id)
    call = attempt.call
    bridged = finish_attempt(session, attempt, dial_call_status=form.get("DialCallStatus"),
                             duration=_int(form.get("DialCallDuration")), now=ctx.now)
    kind = attempt.destination_kind
    if bridged:
        call.outcome = f"connected_{kind}"
        return twiml.hangup()
    # A dial result can arrive after the call's own final status callback: never route then.
    if call.status == CallStatus.COMPLETED or (form.get("CallStatus") or "").lower() in CALL_OVER:
        call.outcome = "caller_hung_up"
        return twiml.hangup()
    if kind == "samhsa":
        call.outcome = "samhsa_unanswered"
        return twiml.samhsa_unanswered()
    if kind == "facility":
        call.outcome = "facility_unanswered"
        return _facility_menu(ctx, repeat=False)
    advertiser = attempt.advertiser
    return _helpline_leg(session, ctx, call, advertiser.pool, before=[], via="failover",
                         after_no_answer=advertiser.name)


def gather(session: Session, ctx: VoiceContext, form: Mapping[str, str],
           query: Mapping[str, str]) -> Reply:
    step = query.get("step") or ""
    digits = (form.get("Digits") or "")[:8]
    retry = query.get("retry") == "1"
    no_input = query.get("no_input") == "1"
    key = f"gather:{step}:retry={int(retry)}:no_input={int(no_input)}:digits={digits}"
    return run_step(session, ctx, form, key,
                    lambda: _gather(session, ctx, form, step, digits, retry, no_input))


def _gather(session: Session, ctx: VoiceContext, form: Mapping[str, str], step: str,
            digits: str, retry: bool, no_input: bool) -> str:
    call = _call(session, form["CallSid"])
    if call.status == CallStatus.COMPLETED:  # a keypress that arrives after the call ended
        return twiml.hangup()
    if step == ZIP:
        pool = pool_for(session, call, ctx.forward_pool)
        return _helpline_leg(session, ctx, call, pool, before=[], via="helpline",
                             keyed_zip=digits or None)
    if step != FACILITY_MENU:
        raise LookupError(f"unknown gather step {step!r}")
    if digits == "1":
        pool = pool_for(session, call, ctx.forward_pool)
        return _helpline_leg(session, ctx, call, pool, before=[twiml.CRISIS],
                             via="facility_forward")
    if digits == "2":
        return _request_callback(session, ctx, call, form.get("From"))
    if digits == "" and no_input:
        call.outcome = "samhsa_no_choice"
        return _samhsa(session, ctx, call, "no_choice", twiml.NO_CHOICE_SAMHSA)
    if retry:
        call.outcome = "samhsa_no_choice"
        return _samhsa(session, ctx, call, "no_choice", twiml.NOT_UNDERSTOOD_TWICE)
    return _facility_menu(ctx, repeat=True)


def _request_callback(session: Session, ctx: VoiceContext, call: Call,
                      from_number: str | None) -> str:
    already = session.execute(
        sa.select(CallbackRequest.id).where(CallbackRequest.call_id == call.id)
    ).scalar()
    request = create_callback_request(session, call, from_number, ctx.callback_key)
    if request is None:  # withheld number: nobody to call back
        call.outcome = "callback_impossible"
        return _samhsa(session, ctx, call, "callback_impossible", twiml.CALLBACK_IMPOSSIBLE)
    if already is None:
        audit.append(session, call_id=call.id, attempt_number=None, kind="outcome",
                     payload={"event": "callback_requested", "callback_request_id": request.id,
                              "facility_id": request.facility_id})
    call.outcome = "callback_requested"
    return twiml.callback_confirmed(request.last_four)


def status(session: Session, ctx: VoiceContext, form: Mapping[str, str],
           query: Mapping[str, str]) -> Reply:
    call_status = (form.get("CallStatus") or "").lower()[:24]
    if "attempt" in query:
        attempt_id = _int(query.get("attempt"))
        key = f"status:attempt={attempt_id}:{call_status}"
        work = partial(_leg_status, session, ctx, form, attempt_id, call_status)
    else:
        key = f"status:call:{call_status}"
        work = partial(_call_status, session, ctx, form, call_status)
    # A leg's callback carries the leg's CallSid; its call's steps are keyed by the parent's.
    return run_step(session, ctx, form, key, work, call_of_step=form.get("ParentCallSid"),
                    speaks=False)


def _leg_status(session: Session, ctx: VoiceContext, form: Mapping[str, str],
                attempt_id: int | None, call_status: str) -> None:
    attempt = session.get(CallAttempt, attempt_id) if attempt_id is not None else None
    parent = form.get("ParentCallSid")
    if attempt is None or (parent and parent != attempt.call.call_sid):
        logger.warning("Leg status for attempt %s does not match a recorded leg", attempt_id)
        return None
    mark_leg(session, attempt, event=call_status, leg_sid=form.get("CallSid"), now=ctx.now,
             settings=ctx.settings)
    # An answered leg that has ended frees its concurrent slot now, even if the <Dial action>
    # request is lost. Unanswered legs wait for the action, which carries the DialCallStatus.
    if call_status == "completed" and attempt.status == AttemptStatus.BRIDGED:
        finish_attempt(session, attempt, dial_call_status="completed",
                       duration=_int(form.get("CallDuration")), now=ctx.now)
    return None


def _call_status(session: Session, ctx: VoiceContext, form: Mapping[str, str],
                 call_status: str) -> None:
    if call_status not in CALL_OVER:
        return None
    call = session.execute(
        sa.select(Call).where(Call.call_sid == form["CallSid"])
    ).scalar_one_or_none()
    duration = _int(form.get("CallDuration"))
    if call is None:
        call = _record_unseen_call(session, ctx, form, duration)
    # The caller is gone, so every leg still counted as live is over too.
    for attempt in call.attempts:
        if attempt.status in (AttemptStatus.RESERVED, AttemptStatus.BRIDGED):
            finished = "completed" if attempt.status == AttemptStatus.BRIDGED else "canceled"
            finish_attempt(session, attempt, dial_call_status=finished, duration=None,
                           now=ctx.now)
    end_call(call, duration=duration, now=ctx.now)
    return None


def _record_unseen_call(session: Session, ctx: VoiceContext, form: Mapping[str, str],
                        duration: int | None) -> Call:
    """A call that ended before any of its steps was recorded: its first webhook failed (the
    caller heard the static answer connecting to the SAMHSA helpline) or never reached finder.
    Every call is on record, so it is recorded now, from its final status callback."""
    started = ctx.now - timedelta(seconds=duration or 0)
    call = open_call(session, call_sid=form["CallSid"], to_number=form.get("To") or "",
                     from_number=form.get("From"), twilio_from_state=form.get("FromState"),
                     hash_key=ctx.hash_key, now=started)
    call.outcome = "fallback_samhsa"
    audit.append(session, call_id=call.id, attempt_number=None, kind="outcome",
                 payload={"event": "recorded_at_end", "explanation": "No step of this call "
                          "was recorded before it ended: it was answered by the static "
                          "fallback connecting to the SAMHSA helpline, or never reached finder."})
    logger.warning("Call %s ended without any recorded step; recorded from its status callback",
                   call.call_sid)
    return call
