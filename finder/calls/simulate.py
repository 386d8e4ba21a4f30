"""What a hypothetical call to a tracking number would do, decided and written to nothing.

The same pure policy (``policy.decide``) as a real call, fed the same snapshots
(``usage_for``), but nothing is reserved, counted or appended to the audit chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from finder.calls.caller import caller_state, identify, normalize
from finder.calls.eligibility import EligibilityRules
from finder.calls.models import AdvertiserPool, Call, NumberKind, TrackingNumber
from finder.calls.numbers import facility_line
from finder.calls.policy import CallerContext, Decision, decide
from finder.calls.routing import (
    SAMHSA_HELPLINE,
    find_tracking_number,
    previous_advertiser,
    state_for_zip,
)
from finder.calls.snapshots import pool_config_hash, snapshot
from finder.calls.usage import usage_for
from finder.geo.names import state_code

#: The state signal of a simulation whose state was given on the command line.
GIVEN = "given"


class SimulationError(ValueError):
    """A bad input; ``param`` names the option it came from."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Simulation:
    tracking: TrackingNumber
    at: datetime
    caller: CallerContext
    caller_last_four: str | None
    pool: AdvertiserPool | None = None
    config_hash: str | None = None
    decision: Decision | None = None

    @property
    def destination(self) -> dict:
        """Who would be rung: the facility, the chosen advertiser, or the SAMHSA helpline."""
        if self.tracking.kind == NumberKind.FACILITY:
            facility = self.tracking.facility
            phone = facility_line(facility)
            if phone:
                return {"kind": "facility", "name": facility.name1, "number": phone}
            return {"kind": "samhsa", "name": "SAMHSA National Helpline",
                    "number": SAMHSA_HELPLINE, "why": "the facility has no known phone"}
        chosen = self.decision.chosen if self.decision else None
        if chosen is None:
            return {"kind": "samhsa", "name": "SAMHSA National Helpline",
                    "number": SAMHSA_HELPLINE}
        return {"kind": "advertiser", "advertiser_id": chosen.id, "name": chosen.name,
                "number": chosen.phone}

    def as_dict(self) -> dict:
        facility = self.tracking.facility
        return {
            "number": self.tracking.number,
            "kind": str(self.tracking.kind),
            "at": self.at.isoformat(),
            "caller": {
                "state": self.caller.state,
                "state_signal": self.caller.state_signal,
                "last_four": self.caller_last_four,
                "previous_advertiser_id": self.caller.previous_advertiser_id,
            },
            "facility": None if facility is None else {
                "id": facility.id, "slug": facility.slug, "name": facility.name1,
                "phone": facility_line(facility),
            },
            "pool": None if self.pool is None else {
                "id": self.pool.id, "name": self.pool.name, "config_hash": self.config_hash,
            },
            "decision": self.decision.as_dict() if self.decision else None,
            "destination": self.destination,
            "recorded": False,
        }


def simulate(session: Session, *, number: str, at: datetime, hash_key: bytes,
             state: str | None = None, zip_code: str | None = None,
             caller: str | None = None) -> Simulation:
    """Decide a hypothetical call to ``number`` at ``at``. Reads only."""
    if at.tzinfo is None:
        raise SimulationError("at", "give the time with its UTC offset, like "
                                    "2026-11-21T22:00-06:00")
    if normalize(number) is None:
        raise SimulationError("number", f"{number!r} is not a valid phone number")
    tracking = find_tracking_number(session, number)
    if tracking is None:
        raise SimulationError("number", f"{normalize(number)} is not an active tracking number "
                                        "(see flask numbers list)")
    if caller is not None and normalize(caller) is None:
        raise SimulationError("caller", "the caller's number is not a valid phone number")
    identity = identify(caller, hash_key)
    caller_state_value, signal = caller_state(caller)
    if state is not None:
        code = state_code(state)
        if code is None:
            raise SimulationError("state", f"{state!r} is not a US state")
        caller_state_value, signal = code, GIVEN
    if zip_code is not None:
        zip_state = state_for_zip(session, zip_code)
        if zip_state is None:
            raise SimulationError("zip", f"{zip_code!r} is not a known 5-digit ZIP code")
        caller_state_value, signal = zip_state, "zip"

    if tracking.kind == NumberKind.FACILITY:
        context = CallerContext(caller_state_value, signal)
        return Simulation(tracking, at, context, identity.last_four)

    pool = tracking.pool
    advertisers = list(pool.advertisers)
    previous = None
    if identity.number_hash is not None:
        # A transient call row (never added to the session) carries the hash for the lookup.
        previous = previous_advertiser(session, Call(caller_hash=identity.number_hash),
                                       pool.repeat_window_days, at)
    context = CallerContext(caller_state_value, signal, previous)
    decision = decide(
        [snapshot(a) for a in advertisers],
        usage_for(session, advertisers, at),
        context,
        at.astimezone(UTC),
        EligibilityRules(min_answer_rate=pool.min_answer_rate),
    )
    return Simulation(tracking, at, context, identity.last_four, pool,
                      pool_config_hash(pool, advertisers), decision)
