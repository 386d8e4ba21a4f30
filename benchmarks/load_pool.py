"""The load run's fictional world: a helpline pool with tight caps, facilities with tracking
numbers, the callers, and an operator account.

Every number is in the 555-01XX range set aside for fiction. The caps are small on purpose:
concurrent caps of 1 to 3 and daily caps of 2 to 10 (one monthly cap lower still, 3): 19 counted
calls in all, which a couple of hundred simultaneous calls exhaust, so most calls fail over or go
straight to the SAMHSA helpline.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from benchmarks.routing_pool import add_pool
from finder.accounts.models import Role
from finder.accounts.operations import create_user
from finder.calls.models import NumberKind, TrackingNumber
from finder.directory.models import Facility

HELPLINE = "+18885550102"
#: Dialled by a few callers, routed by nobody: the unknown-number path.
UNKNOWN_NUMBER = "+18885550199"
POOL_NAME = "Load test helpline pool (fictional)"
VALID_UNTIL = date(2031, 12, 31)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = {day: [["00:00", "00:00"]] for day in _DAYS}
#: Callers' area codes and their states (phonenumbers' offline data agrees).
CALLER_AREA_CODES = {"512": "TX", "214": "TX", "713": "TX", "210": "TX", "213": "CA",
                     "415": "CA", "212": "NY", "718": "NY", "303": "CO", "312": "IL",
                     "305": "FL", "404": "GA", "615": "TN", "602": "AZ"}
EVERYWHERE = sorted(set(CALLER_AREA_CODES.values()))

#: letter, phone, zone, tier, weight, daily cap, monthly cap, concurrent cap, states, problem
ADVERTISERS = (
    ("A", "+15125550171", "America/Chicago", 1, 3, 6, 1000, 3, EVERYWHERE, None),
    ("B", "+12135550172", "America/Los_Angeles", 1, 2, 4, 1000, 2, EVERYWHERE, None),
    # The monthly cap binds before the daily one.
    ("C", "+12125550173", "America/New_York", 1, 1, 10, 3, 2, EVERYWHERE, None),
    ("D", "+13035550174", "America/Denver", 2, 1, 2, 1000, 1, ["CO", "TX", "CA"], None),
    ("E", "+13125550175", "America/Chicago", 2, 2, 4, 1000, 2, EVERYWHERE, None),
    # Would take everything, but its license has expired: never chosen.
    ("F", "+16155550176", "America/Chicago", 1, 5, 50, 1000, 5, EVERYWHERE, "license_expired"),
)

#: tracking number, facility name, facility phone (None: no phone, the SAMHSA path)
FACILITIES = (
    ("+18885550103", "Example Load Facility One (fictional)", "+14345550181"),
    ("+18885550104", "Example Load Facility Two (fictional)", "+17205550182"),
    ("+18885550105", "Example Load Facility Three (fictional)", "+16155550183"),
    ("+18885550106", "Example Load Facility Without Phone (fictional)", None),
)

OPERATOR_EMAIL = "load-operator@example.org"


def configured_numbers() -> set[str]:
    """Every number this world stores in the clear: no caller may have one of them."""
    numbers = {HELPLINE, UNKNOWN_NUMBER}
    numbers |= {entry[1] for entry in ADVERTISERS}
    for tracking, _name, phone in FACILITIES:
        numbers |= {tracking, phone} - {None}
    return numbers


def advertiser_values(entry: tuple) -> dict:
    letter, phone, zone, tier, weight, daily, monthly, concurrent, states, problem = entry
    return dict(
        name=f"Example Load Treatment Center {letter} (fictional)",
        city="Example City", state=states[0], phone=phone, timezone=zone, tier=tier,
        weight=weight, daily_cap=daily, monthly_cap=monthly, concurrent_cap=concurrent,
        hours=ALWAYS, states_served=states,
        license_number=f"LOAD-LIC-{letter}", license_state=states[0],
        license_expires_on=date(2025, 6, 30) if problem == "license_expired" else VALID_UNTIL,
        accreditation_body="Example Accreditation Council (fictional)",
        accreditation_expires_on=VALID_UNTIL,
        certification_id=f"LOAD-CERT-{letter}", certification_expires_on=VALID_UNTIL,
        contract_starts_on=date(2025, 1, 1), contract_ends_on=VALID_UNTIL,
        pricing_basis="per answered call (load test: nothing is billed)",
        consent_to_be_named=True, active=True, is_demo=True,
    )


def build(url: str) -> None:
    """Add the pool, its helpline number and the facilities with their tracking numbers."""
    engine = sa.create_engine(url)
    try:
        with Session(engine) as session:
            add_pool(session, POOL_NAME, HELPLINE, "Load test helpline (fictional)",
                     [advertiser_values(entry) for entry in ADVERTISERS])
            for n, (tracking, name, phone) in enumerate(FACILITIES, 1):
                facility = Facility(slug=f"example-load-facility-{n}", name1=name,
                                    city="Charlottesville", state="VA", zip="22902",
                                    latitude=38.03, longitude=-78.48, phone=phone,
                                    data_source="load test (fictional)")
                session.add(TrackingNumber(number=tracking, kind=NumberKind.FACILITY,
                                           facility=facility, is_demo=True,
                                           label=f"Load test: {name}"))
            session.commit()
    finally:
        engine.dispose()


def add_operator(app, password: str) -> str:
    """An operator account (reads the call log and its CSV export); returns its email."""
    from finder.extensions import db

    with app.app_context():
        create_user(db.session, email=OPERATOR_EMAIL, password=password, role=Role.OPERATOR,
                    actor="benchmarks/load_calls.py")
        db.session.commit()
        db.engine.dispose()
    return OPERATOR_EMAIL


@dataclass(frozen=True)
class Callers:
    """Who calls: E.164 numbers (None: withheld), some of them more than once."""

    numbers: list[str | None]

    @property
    def distinct(self) -> set[str]:
        return {number for number in self.numbers if number}


def callers(count: int, rng: random.Random, *, repeat: float = 0.1,
            withheld: float = 0.02) -> Callers:
    """``count`` callers from the area codes above, +1 AAA 555-01XX, none of them a number this
    world stores; a share ``repeat`` calls again (a repeat caller), ``withheld`` hides its
    number."""
    taken = configured_numbers()
    pool = [f"+1{area}5550{n}" for area in CALLER_AREA_CODES for n in range(100, 200)]
    fresh = [number for number in pool if number not in taken]
    rng.shuffle(fresh)
    numbers: list[str | None] = []
    for _ in range(count):
        roll = rng.random()
        if roll < withheld:
            numbers.append(None)
        elif roll < withheld + repeat and any(numbers):
            numbers.append(rng.choice([n for n in numbers if n]))
        else:
            numbers.append(fresh.pop())
    return Callers(numbers)
