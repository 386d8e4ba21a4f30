"""Running one voice webhook step: exactly once, in its turn, in time, never silent.

Every step is keyed by (CallSid, step). ``run_step`` first takes its call's turn
(``locks.call_lock``: the steps of one call never overlap, steps of different calls do) and
claims a ``WebhookReceipt`` row, in one statement (an INSERT, which on SQLite also takes the
write lock, so everything read after it is stable), does the work, stores the TwiML it
answered in the receipt and commits. A Twilio retry of the same step finds the receipt and
gets the same TwiML back without routing or counting again. Any failure, or an answer that
would come after Twilio's deadline, rolls back and answers the static SAMHSA fallback: a call
never ends in silence, and the call is still recorded, with the reason, when the database
allows.

The steps themselves (what each webhook does) are in ``flow.py``.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from finder.calls import audit, locks, routing_config, spool, twiml
from finder.calls.caller import redact
from finder.calls.models import Call, WebhookReceipt
from finder.calls.routing import RoutingSettings, expire_stale_legs, open_call
from finder.calls.spool import Spool

logger = logging.getLogger(__name__)

#: How often (by the routing clock) a process closes legs whose callbacks never came. They stop
#: counting as live at their expiry anyway; closing them is bookkeeping, not a cap.
EXPIRY_INTERVAL = timedelta(seconds=15)
#: Per database engine: when this process last closed stale legs, and last drained the spool.
_last_expiry: weakref.WeakKeyDictionary[Engine, datetime] = weakref.WeakKeyDictionary()
_last_drain: weakref.WeakKeyDictionary[Engine, datetime] = weakref.WeakKeyDictionary()
_timer_lock = threading.Lock()


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
    #: Where webhooks answered while the database is down are kept for their record.
    spool: Spool | None = None


class DeadlinePassed(Exception):
    """The answer would come after Twilio stopped waiting: nothing the step did may stand."""


@dataclass(frozen=True)
class Reply:
    twiml: str | None  #: None: nothing to say (204), as for status callbacks


FALLBACK = Reply(twiml.FALLBACK_TWIML)


# -- idempotency ----------------------------------------------------------------------------

_RECEIPTS = WebhookReceipt.__table__


@functools.cache
def _claim_statement(dialect_name: str):
    """Insert a step's receipt unless it exists, returning its id and the routing
    configuration's token (``routing_config``).

    On PostgreSQL the same statement first takes the call's turn (``locks.call_lock``): the
    lock is granted before the receipt is inserted, one round trip less than two statements.
    """
    if dialect_name != "postgresql":
        return (
            sqlite.insert(_RECEIPTS)
            .values(call_sid=sa.bindparam("call_sid"), step=sa.bindparam("step"), response="",
                    created_at=sa.bindparam("created_at"))
            .on_conflict_do_nothing()
            .returning(_RECEIPTS.c.id, routing_config.TOKEN)
        )
    turn = sa.select(locks.expression((sa.bindparam("space", type_=sa.Integer),
                                        sa.bindparam("key", type_=sa.Integer))).label("turn"))
    columns = _RECEIPTS.c
    row = sa.select(
        sa.bindparam("call_sid", type_=columns.call_sid.type),
        sa.bindparam("step", type_=columns.step.type),
        sa.literal("", columns.response.type),
        sa.bindparam("created_at", type_=columns.created_at.type),
    ).select_from(turn.subquery("turn"))
    return (
        postgresql.insert(_RECEIPTS)
        .from_select(["call_sid", "step", "response", "created_at"], row)
        .on_conflict_do_nothing()
        .returning(_RECEIPTS.c.id, routing_config.TOKEN)
    )


_ANSWERED = (
    sa.update(_RECEIPTS)
    .where(_RECEIPTS.c.call_sid == sa.bindparam("receipt_sid"),
           _RECEIPTS.c.step == sa.bindparam("receipt_step"))
    .values(response=sa.bindparam("answer"))
)


def _claim(session: Session, call_sid: str, step: str, now: datetime, turn: str) -> bool:
    """Take the turn of the call ``turn`` (its parent CallSid) and insert the receipt row for
    this step; False when another request already holds the receipt."""
    params = {"call_sid": call_sid, "step": step, "created_at": now}
    dialect = session.get_bind().dialect.name
    lock = locks.call_lock(turn)
    if dialect == "postgresql":
        params["space"], params["key"] = lock
    claimed = session.execute(_claim_statement(dialect), params).first()
    if dialect == "postgresql":
        locks.taken(session, lock)
    if claimed is None:
        return False
    routing_config.note_token(session, claimed[1])
    return True


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


def _due(last_runs: weakref.WeakKeyDictionary, session: Session, now: datetime) -> bool:
    """True at most once every ``EXPIRY_INTERVAL`` (by the routing clock) per database engine."""
    engine = session.get_bind()
    with _timer_lock:
        last = last_runs.get(engine)
        if last is not None and last <= now < last + EXPIRY_INTERVAL:
            return False
        last_runs[engine] = now
        return True


def _expire_now_and_then(session: Session, now: datetime) -> None:
    """Close stale legs at most every ``EXPIRY_INTERVAL``, in a transaction of their own."""
    if not _due(_last_expiry, session, now):
        return
    if expire_stale_legs(session, now):
        session.commit()
    else:
        session.rollback()


def _drain_now_and_then(session: Session, ctx: VoiceContext) -> None:
    """Record what the spool kept while the database was down, at most every
    ``EXPIRY_INTERVAL``, in transactions of their own. Only steps nobody hears run it (status
    callbacks), so no caller waits for it."""
    # The clock first: listing the spool's folder is left to one status callback in 15 s.
    if ctx.spool is None or not _due(_last_drain, session, ctx.now) or not ctx.spool.pending():
        return
    try:
        recorded = spool.drain(session, ctx.spool)
    except Exception:  # noqa: BLE001 - the spool waits for the next turn; the step goes on
        _safe_rollback(session)
        logger.error("Could not record the voice spool.\n%s", redact(traceback.format_exc()))
        return
    logger.warning("Recorded %d call(s) kept in the voice spool while the database was down",
                   recorded)


def _check_deadline(ctx: VoiceContext) -> None:
    if ctx.deadline is not None and time.time() > ctx.deadline:
        raise DeadlinePassed(f"{time.time() - ctx.deadline:.1f} s past the answer's deadline")


def open_fallback_call(session: Session, ctx: VoiceContext, form: Mapping[str, str],
                       started: datetime) -> Call:
    """Record a call that no step routed: the caller heard the static answer connecting to the
    SAMHSA helpline (or never reached finder). Its number is hashed like any caller's."""
    call = open_call(session, call_sid=form["CallSid"][:64], to_number=form.get("To") or "",
                     from_number=form.get("From"), twilio_from_state=form.get("FromState"),
                     hash_key=ctx.hash_key, now=started)
    call.outcome = "fallback_samhsa"
    return call


def _record_fallback(session: Session, ctx: VoiceContext, form: Mapping[str, str],
                     call_sid: str, step: str, error: BaseException) -> None:
    """Keep a trace of a step answered by the fallback: the call, and why, in the audit chain.

    Not when the database itself failed (unreachable, hung, locked, broken): trying again would
    keep the caller waiting a second time. The request goes to the spool instead (``spool``),
    recorded once the database is back, or the call is recorded by its final status callback.
    """
    if isinstance(error, sa.exc.DBAPIError):
        if ctx.spool is not None:
            ctx.spool.write(form, step=step, at=ctx.now, hash_key=ctx.hash_key)
        return
    try:
        call = session.execute(
            sa.select(Call).where(Call.call_sid == call_sid)
        ).scalar_one_or_none()
        if call is None and step == "incoming":
            call = open_fallback_call(session, ctx, form, ctx.now)
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
            if not speaks:
                _drain_now_and_then(session, ctx)
            if not _claim(session, call_sid, step, ctx.now, (call_of_step or call_sid)[:64]):
                return _stored(session, call_sid, step)
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
