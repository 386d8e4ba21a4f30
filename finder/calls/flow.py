"""The voice webhook steps: what each Twilio request does, as routing calls and TwiML.

Each step runs through ``steps.run_step``: once per (CallSid, step), in its call's turn, in time
for Twilio, and answered by the static SAMHSA fallback if anything fails.

Plain module: the request's form and query come in as mappings, URLs through ``VoiceContext.url``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from functools import partial

import sqlalchemy as sa
from sqlalchemy.orm import Session

from finder.calls import audit, routing_config, twiml
from finder.calls.callbacks import create_callback_request
from finder.calls.models import (
    AttemptStatus,
    Call,
    CallAttempt,
    CallbackRequest,
    CallStatus,
    NumberKind,
)
from finder.calls.routing import (
    Leg,
    close_call,
    finish_attempt,
    locked_leg,
    mark_leg,
    open_call,
    pool_for,
    ring_facility,
    route_helpline,
    samhsa_leg,
)
from finder.calls.routing_config import PoolConfig
from finder.calls.steps import Reply, VoiceContext, open_fallback_call, run_step

logger = logging.getLogger(__name__)

#: Parent-call statuses meaning the caller is gone: nothing more is routed for them.
CALL_OVER = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
#: SAMHSA answers through a queue; give it longer than an advertiser to pick up.
SAMHSA_RING_SECONDS = 60
#: Twilio's ceiling for <Dial timeLimit> (4 hours).
MAX_DIAL_SECONDS = 14400
FACILITY_MENU = "facility-unanswered"
ZIP = "zip"
def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


# -- lookups and TwiML helpers --------------------------------------------------------------

def _call(session: Session, call_sid: str) -> Call:
    call = session.execute(sa.select(Call).where(Call.call_sid == call_sid)).scalar_one_or_none()
    if call is None:
        raise LookupError(f"no call recorded for CallSid {call_sid}")
    return call


def _attempt_of(session: Session, call_sid: str, attempt_id: int | None) -> CallAttempt:
    """The leg ``attempt_id`` of the call ``call_sid``, locked (``routing.locked_leg``)."""
    attempt = locked_leg(session, attempt_id) if attempt_id is not None else None
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


def _helpline_leg(session: Session, ctx: VoiceContext, call: Call, pool: PoolConfig | None,
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
    # route_helpline set the call's outcome: routed_advertiser or routed_samhsa.
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
    # Not flushed: the call's row is written with its first leg, outcome included.
    call = open_call(session, call_sid=form["CallSid"], to_number=form.get("To") or "",
                     from_number=form.get("From"), twilio_from_state=form.get("FromState"),
                     hash_key=ctx.hash_key, now=ctx.now, flush=False)
    tracking = call.tracking_number
    if tracking is None:
        # The To number is finder's own (never the caller's): operators need it to fix routing.
        logger.warning("Call to a number finder does not route: %s (CallSid %s); connected to "
                       "the SAMHSA helpline", call.to_number, call.call_sid)
        call.outcome = "unknown_number"
        return _samhsa(session, ctx, call, "unknown_number", twiml.UNKNOWN_NUMBER)
    if tracking.kind == NumberKind.FACILITY:
        call.outcome = "routed_facility"
        leg = ring_facility(session, call, ctx.now, ctx.settings)
        if leg is None:
            call.outcome = "facility_no_phone"
            return _samhsa(session, ctx, call, "facility_no_phone", twiml.NO_FACILITY_PHONE)
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
                             duration=_int(form.get("DialCallDuration")), now=ctx.now,
                             locked=True)
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
    # The advertiser's pool as the routing configuration in force has it (cached, no query).
    pool = routing_config.current(session).pool_of(attempt.advertiser_id)
    name = pool.advertiser(attempt.advertiser_id).name if pool else attempt.advertiser.name
    return _helpline_leg(session, ctx, call, pool, before=[], via="failover",
                         after_no_answer=name)


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
    attempt = locked_leg(session, attempt_id) if attempt_id is not None else None
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
                       duration=_int(form.get("CallDuration")), now=ctx.now, locked=True)
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
    close_call(session, call, duration=duration, now=ctx.now)
    return None


def _record_unseen_call(session: Session, ctx: VoiceContext, form: Mapping[str, str],
                        duration: int | None) -> Call:
    """A call that ended before any of its steps was recorded: its first webhook failed (the
    caller heard the static answer connecting to the SAMHSA helpline) or never reached finder.
    Every call is on record, so it is recorded now, from its final status callback."""
    call = open_fallback_call(session, ctx, form, ctx.now - timedelta(seconds=duration or 0))
    audit.append(session, call_id=call.id, attempt_number=None, kind="outcome",
                 payload={"event": "recorded_at_end", "explanation": "No step of this call "
                          "was recorded before it ended: it was answered by the static "
                          "fallback connecting to the SAMHSA helpline, or never reached finder."})
    logger.warning("Call %s ended without any recorded step; recorded from its status callback",
                   call.call_sid)
    return call
