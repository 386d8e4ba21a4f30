"""The fault run's fictional numbers, its whole calls played as Twilio drives them, and checks.

Three lines, every number in the 555-01XX range set aside for fiction:

- ``LINE``: a helpline whose pool has three advertisers open around the clock for every state,
  caps loose enough never to bind (a fault must not look like a full pool);
- ``EXPIRY_LINE``: a helpline whose pool has one advertiser with a concurrent cap of 1, so a leg
  left open holds the only slot until it expires;
- ``FACILITY_LINE``: a facility's tracking number (the facility ringing, then its menu).

``play`` plays one call; ``check_played`` reads the database afterwards: what reached the app is
recorded once, nothing is counted twice, the counters equal the legs that count.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from benchmarks import call_checks
from benchmarks.routing_pool import ALWAYS, EVERYWHERE, advertiser_values
from benchmarks.twilio_double import Exchange, Twilio, call_params, connects_to_samhsa, dialled
from finder.calls import audit
from finder.calls.models import (
    Advertiser,
    AdvertiserPool,
    AdvertiserUsageCounter,
    AuditEntry,
    CallStatus,
    NumberKind,
    TrackingNumber,
)
from finder.calls.twiml import FALLBACK_TWIML
from finder.directory.models import Facility

LINE = "+18885550102"
EXPIRY_LINE = "+18885550103"
FACILITY_LINE = "+15125550190"
FACILITY_PHONE = "+14345550191"
POOL = "Faults helpline pool (fictional)"
EXPIRY_POOL = "Faults expiry pool (fictional)"
#: name, phone, zone, tier, weight, concurrent cap, hours, states, problem
ADVERTISERS = (
    ("K", "+15125550171", "America/Chicago", 1, 2, 40, ALWAYS, EVERYWHERE, None),
    ("L", "+12135550172", "America/Los_Angeles", 1, 1, 40, ALWAYS, EVERYWHERE, None),
    ("M", "+13125550173", "America/Chicago", 2, 1, None, ALWAYS, EVERYWHERE, None),
)
EXPIRY_ADVERTISER = ("X", "+12125550174", "America/New_York", 1, 1, 1, ALWAYS, EVERYWHERE, None)


def _advertiser(pool: AdvertiserPool, entry: tuple) -> Advertiser:
    values = advertiser_values(entry)
    values["name"] = f"Example Faults Treatment Center {entry[0]} (fictional)"
    return Advertiser(pool=pool, **values)


def build(url: str) -> None:
    """Add both pools, the facility and the three tracking numbers to the migrated database."""
    engine = sa.create_engine(url)
    try:
        with Session(engine) as session:
            # Answer rates are not under test: a fault's failed legs must not make anyone
            # ineligible, so the pools accept any answer rate.
            pool = AdvertiserPool(name=POOL, max_attempts=3, min_answer_rate=0, is_demo=True)
            expiry = AdvertiserPool(name=EXPIRY_POOL, max_attempts=3, min_answer_rate=0,
                                    is_demo=True)
            session.add_all([pool, expiry])
            session.add_all(_advertiser(pool, entry) for entry in ADVERTISERS)
            session.add(_advertiser(expiry, EXPIRY_ADVERTISER))
            facility = Facility(slug="example-faults-facility", name1="Example Faults Facility "
                                "(fictional)", city="Example City", state="VA", zip="22902",
                                latitude=38.03, longitude=-78.48, phone=FACILITY_PHONE,
                                data_source="fault run (fictional)")
            session.add_all([
                TrackingNumber(number=LINE, kind=NumberKind.HELPLINE, pool=pool,
                               label="Faults helpline (fictional)", is_demo=True),
                TrackingNumber(number=EXPIRY_LINE, kind=NumberKind.HELPLINE, pool=expiry,
                               label="Faults expiry helpline (fictional)", is_demo=True),
                TrackingNumber(number=FACILITY_LINE, kind=NumberKind.FACILITY,
                               facility=facility, label="Faults facility (fictional)",
                               is_demo=True),
            ])
            session.commit()
    finally:
        engine.dispose()


def caller_number(rng: random.Random) -> str:
    """A fictional Austin caller, +1 512 555-01XX."""
    return f"+15125550{rng.randrange(100, 200)}"


# -- whole calls ------------------------------------------------------------------------------

@dataclass
class PlayedCall:
    sid: str
    exchanges: list[Exchange] = field(default_factory=list)
    #: The numbers the app's TwiML dialled with a <Dial action>, in order (the legs Twilio rang).
    destinations: list[str] = field(default_factory=list)
    #: Some voice step got no answer (or an error) and the fallback URL answered it.
    fell_back: bool = False
    #: The app itself answered ``/voice/incoming`` (not the static fallback, nor the fallback URL).
    reached_app: bool = False
    status_delivered: bool = False


def _by_app(exchange: Exchange) -> bool:
    return not exchange.failed and exchange.body != FALLBACK_TWIML


def play(twilio: Twilio, sid: str, caller: str, to: str, *, no_answer: bool,
         pause: Callable[[], None]) -> PlayedCall:
    """One call: incoming, each leg's <Dial action> (the first unanswered when ``no_answer``),
    then the call's status callback. A static answer (the fallback) ends the call at SAMHSA."""
    call = PlayedCall(sid)
    base = call_params(sid, caller, to)
    exchange = twilio.webhook("/voice/incoming", base)
    call.exchanges.append(exchange)
    call.reached_app = _by_app(exchange)
    while True:
        if not _by_app(exchange):
            call.fell_back = True
            break
        dial = dialled(exchange.body)
        if dial is None or dial[1] is None or len(call.destinations) >= 6:
            break
        call.destinations.append(dial[0])
        answered = not (no_answer and len(call.destinations) == 1)
        pause()
        exchange = twilio.webhook(dial[1], {
            **base, "CallStatus": "in-progress",
            "DialCallSid": f"{sid[:-4]}L{len(call.destinations):03d}",
            "DialCallStatus": "completed" if answered else "no-answer",
            "DialCallDuration": "47" if answered else "0"})
        call.exchanges.append(exchange)
    pause()
    status = twilio.request("/voice/status", {**base, "CallStatus": "completed",
                                              "CallDuration": "95"})
    call.exchanges.append(status)
    call.status_delivered = status.status == 204
    return call


def answer_problems(exchanges: list[Exchange]) -> list[str]:
    """What Twilio must never get: a 5xx, no answer even from the fallback URL, or a voice
    answer that is not TwiML (a fallback's TwiML must connect to SAMHSA)."""
    problems = []
    for exchange in exchanges:
        for one in (exchange, exchange.fallback):
            if one is None:
                continue
            if one.status is not None and one.status >= 500:
                problems.append(f"HTTP {one.status} reached Twilio from /voice/{one.endpoint}")
        if exchange.endpoint == "status":
            continue
        heard = exchange.fallback if exchange.fallback is not None else exchange
        if heard.status != 200:
            problems.append(f"/voice/{exchange.endpoint}: the caller got no TwiML "
                            f"({heard.status}, {heard.error})")
        elif heard.body == FALLBACK_TWIML and not connects_to_samhsa(heard.body):
            problems.append(f"/voice/{exchange.endpoint}: the fallback does not dial SAMHSA")
        elif dialled(heard.body) is None and "<Hangup" not in heard.body \
                and "<Gather" not in heard.body:
            problems.append(f"/voice/{exchange.endpoint}: unexpected TwiML {heard.body[:120]}")
    return problems


def check_played(url: str, played: list[PlayedCall]) -> tuple[list[str], dict[str, int]]:
    """Read the database after calls under a fault. Returns the problems and counts of how the
    calls fared.

    A call that reached the app is recorded once. Its legs begin with the numbers Twilio rang,
    in order; at most one more leg exists, and only when a step of that call was answered by the
    fallback (the step committed but its answer was lost with the worker or the database). A call
    whose status callback was delivered is closed with no live leg. Globally: the counters equal
    the legs that count, every leg has one decision row and at most one outcome row, no cap was
    ever exceeded, the audit chain is intact.
    """
    engine = sa.create_engine(url)
    problems: list[str] = []
    fared = {"played": len(played), "reached the app": 0, "recorded": 0,
             "answered by the fallback": 0, "fallback and not recorded": 0,
             "an extra leg from a lost answer": 0, "counted, never rung": 0,
             "status callback unanswered": 0}
    try:
        with Session(engine) as session:
            facts = call_checks.Facts.read(session)
            legs: dict[int, list] = {}
            for attempt in facts.attempts:
                legs.setdefault(attempt.call_id, []).append(attempt)
            for call in played:
                problems += [f"{call.sid}: {p}" for p in answer_problems(call.exchanges)]
                record = facts.calls.get(call.sid)
                fared["reached the app"] += call.reached_app
                fared["answered by the fallback"] += call.fell_back
                if record is None:
                    if call.reached_app:
                        problems.append(f"{call.sid}: the app answered it, no call recorded")
                    else:
                        fared["fallback and not recorded"] += 1
                    continue
                fared["recorded"] += 1
                numbers = [a.dialed_number for a in legs.get(record.id, [])]
                if numbers[:len(call.destinations)] != call.destinations:
                    problems.append(f"{call.sid}: legs {numbers}, Twilio rang "
                                    f"{call.destinations}")
                extra = len(numbers) - len(call.destinations)
                if extra > (1 if call.fell_back else 0):
                    problems.append(f"{call.sid}: {extra} legs more than Twilio rang {numbers}")
                fared["an extra leg from a lost answer"] += extra > 0
                never_rung = [a for a in legs.get(record.id, [])[len(call.destinations):]
                              if a.counted_on is not None]
                if never_rung:
                    # Its step committed but the answer was lost, and the call's status callback
                    # too: nothing tells the app that Twilio never rang it.
                    fared["counted, never rung"] += 1
                    if call.status_delivered:
                        problems.append(
                            f"{call.sid}: leg {never_rung[0].id} ({never_rung[0].status}) counts "
                            f"against advertiser {never_rung[0].advertiser_id}'s caps though "
                            f"Twilio never rang it and the call's status callback was answered")
                if call.status_delivered:
                    if record.status != CallStatus.COMPLETED:
                        problems.append(f"{call.sid}: status callback delivered, still "
                                        f"{record.status}")
                    live = [a.id for a in legs.get(record.id, []) if a.status in call_checks.LIVE]
                    if live:
                        problems.append(f"{call.sid}: closed, legs {live} still live")
                else:
                    fared["status callback unanswered"] += 1
            problems += consistency(session, facts)
    finally:
        engine.dispose()
    return problems, fared


def recorded_from_spool(url: str) -> int:
    """Calls recorded from the voice spool (the database was down for all their webhooks)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT count(*) FROM routing_audit WHERE kind = 'outcome' "
                "AND payload LIKE '%\"event\":\"recorded_from_spool\"%'")).scalar_one()
    finally:
        engine.dispose()


def consistency(session: Session, facts: call_checks.Facts | None = None) -> list[str]:
    """Whole-database checks: counters equal the legs that count, one decision per leg and at
    most one outcome, no cap exceeded in the audit chain's order, the chain intact."""
    facts = facts or call_checks.Facts.read(session)
    problems = call_checks.counters_match(session, facts.advertisers, facts.attempts)
    problems += call_checks.each_step_once(session, facts)
    # The day and month caps replay as they are; the concurrent cap needs each leg's expiry
    # (an expired leg writes no audit row), which ``live_legs_within_caps`` takes into account.
    problems += [p for p in call_checks.replay_caps(session, facts.advertisers, facts.attempts)
                 if "concurrent cap" not in p]
    problems += live_legs_within_caps(session, facts)
    chain = audit.verify(session)
    if not chain.intact:
        problems.append(f"audit chain broken at row {chain.first_broken_id}: {chain.problem}")
    return problems


def live_legs_within_caps(session: Session, facts: call_checks.Facts) -> list[str]:
    """Walk the audit chain in order: when each advertiser leg was routed, the advertiser's
    legs then live (routed, not finished, not past their expiry at that moment) were within
    its concurrent cap."""
    legs = {(a.call_id, a.attempt_number): a for a in facts.attempts if a.advertiser_id}
    live: dict[int, dict[int, object]] = {}
    problems = []
    rows = session.execute(sa.select(AuditEntry.id, AuditEntry.call_id,
                                     AuditEntry.attempt_number, AuditEntry.kind)
                           .order_by(AuditEntry.id))
    for entry_id, call_id, attempt_number, kind in rows:
        leg = legs.get((call_id, attempt_number))
        if leg is None:
            continue
        open_legs = live.setdefault(leg.advertiser_id, {})
        if kind != "decision":
            open_legs.pop(leg.id, None)
            continue
        open_legs[leg.id] = leg.expires_at
        counting = sum(1 for expires in open_legs.values() if expires > leg.started_at)
        cap = facts.advertisers[leg.advertiser_id].concurrent_cap
        if cap is not None and counting > cap:
            problems.append(f"row {entry_id}: advertiser {leg.advertiser_id} had {counting} "
                            f"live legs, over its concurrent cap {cap}")
    return problems


def counted_calls(session: Session) -> int:
    """Calls counted against daily caps, all advertisers together."""
    return session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(AdvertiserUsageCounter.calls), 0))
        .where(AdvertiserUsageCounter.period == "day")).scalar_one()


def decision_reasons(session: Session, call_id: int) -> set[str]:
    """Every reason code any candidate got in the call's routing decisions."""
    reasons: set[str] = set()
    payloads = session.execute(sa.select(AuditEntry.payload).where(
        AuditEntry.call_id == call_id, AuditEntry.kind == "decision")).scalars()
    for payload in payloads:
        for candidate in json.loads(payload).get("candidates", ()):
            reasons.update(candidate.get("reasons", ()))
    return reasons


def pause_for(rng: random.Random, mean_seconds: float) -> Callable[[], None]:
    """Exponential pauses between a call's requests (a caller listening, a phone ringing)."""
    def pause() -> None:
        if mean_seconds > 0:
            time.sleep(rng.expovariate(1 / mean_seconds))
    return pause
