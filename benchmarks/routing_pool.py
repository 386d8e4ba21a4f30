"""The routing benchmark's fictional pool: ten advertisers in three tiers, mixed eligibility.

Every number is in the 555-01XX range set aside for fiction. Daily and monthly caps are
generous (the benchmark must not run the pool dry); concurrent caps are tight in tier 1, so under
32 simultaneous callers they bind and calls spill over to tiers 2 and 3.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from finder.calls.models import (
    Advertiser,
    AdvertiserPool,
    AttemptStatus,
    Call,
    CallAttempt,
    CallStatus,
    NumberKind,
    TrackingNumber,
)

HELPLINE = "+18885550101"
POOL_NAME = "Benchmark helpline pool (fictional)"
VALID_UNTIL = date(2031, 12, 31)
#: Callers' area codes: TX, CA, NY, CO, IL, FL, GA, TN, AZ. Some states no tier 1 serves.
CALLER_AREA_CODES = ("512", "214", "713", "210", "213", "415", "212", "718", "303", "312",
                     "305", "404", "615", "602")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = {day: [["00:00", "00:00"]] for day in _DAYS}
OFFICE = {day: [["09:00", "17:00"]] for day in _DAYS[:5]}
OVERNIGHT = {day: [["18:00", "08:00"]] for day in _DAYS}
EVERYWHERE = ["AZ", "CA", "CO", "FL", "GA", "IL", "NY", "TN", "TX"]
BIG = (100_000, 1_000_000)

#: name, phone, zone, tier, weight, concurrent cap, hours, states, what makes it ineligible
ADVERTISERS = (
    ("A", "+15125550161", "America/Chicago", 1, 3, 4, ALWAYS, ["TX", "OK", "NM"], None),
    ("B", "+12135550162", "America/Los_Angeles", 1, 2, 3, ALWAYS, ["CA", "TX", "AZ"], None),
    ("C", "+12125550163", "America/New_York", 1, 1, 3, ALWAYS, ["NY", "NJ", "FL"], None),
    ("D", "+13035550164", "America/Denver", 1, 2, 3, ALWAYS, ["CO", "TX"], "license_expired"),
    ("E", "+16155550165", "America/Chicago", 1, 2, 3, ALWAYS, EVERYWHERE, "inactive"),
    ("F", "+14045550166", "America/New_York", 1, 1, 3, OFFICE, ["GA", "FL", "TN"], None),
    ("G", "+13125550167", "America/Chicago", 2, 2, 6, ALWAYS, EVERYWHERE, None),
    ("H", "+16025550168", "America/Phoenix", 2, 1, 4, OVERNIGHT, EVERYWHERE, None),
    ("I", "+17185550169", "America/New_York", 2, 1, 4, ALWAYS, EVERYWHERE, "no_consent"),
    ("J", "+12105550170", "America/Chicago", 3, 1, None, ALWAYS, EVERYWHERE, None),
)


def advertiser_values(entry: tuple) -> dict:
    letter, phone, zone, tier, weight, concurrent, hours, states, problem = entry
    return dict(
        name=f"Example Benchmark Treatment Center {letter} (fictional)",
        city="Example City", state=states[0], phone=phone, timezone=zone, tier=tier,
        weight=weight, daily_cap=BIG[0], monthly_cap=BIG[1], concurrent_cap=concurrent,
        hours=hours, states_served=states,
        license_number=f"BENCH-LIC-{letter}", license_state=states[0],
        license_expires_on=date(2025, 6, 30) if problem == "license_expired" else VALID_UNTIL,
        accreditation_body="Example Accreditation Council (fictional)",
        accreditation_expires_on=VALID_UNTIL,
        certification_id=f"BENCH-CERT-{letter}", certification_expires_on=VALID_UNTIL,
        contract_starts_on=date(2025, 1, 1), contract_ends_on=VALID_UNTIL,
        pricing_basis="per answered call (benchmark: nothing is billed)",
        consent_to_be_named=problem != "no_consent", active=problem != "inactive",
        is_demo=True,
    )


def advertisers_for_policy() -> list[Advertiser]:
    """Unsaved rows with ids, for snapshots of the pure policy."""
    return [Advertiser(id=n, **advertiser_values(entry)) for n, entry in enumerate(ADVERTISERS, 1)]


def add_pool(session: Session, name: str, helpline: str, label: str,
             advertisers: list[dict]) -> AdvertiserPool:
    """A fictional pool (three attempts, 30-day repeat window, 50% minimum answer rate) with
    ``advertisers`` (column values) and its helpline number, added to ``session``."""
    pool = AdvertiserPool(name=name, ask_for_zip=False, max_attempts=3, repeat_window_days=30,
                          min_answer_rate=0.5, is_demo=True)
    session.add(pool)
    session.add_all(Advertiser(pool=pool, **values) for values in advertisers)
    session.add(TrackingNumber(number=helpline, kind=NumberKind.HELPLINE, pool=pool, label=label,
                               is_demo=True))
    return pool


def build(url: str) -> None:
    """Add the pool, its advertisers and its helpline number to the (migrated, empty) database."""
    engine = sa.create_engine(url)
    try:
        with Session(engine) as session:
            add_pool(session, POOL_NAME, HELPLINE, "Benchmark helpline (fictional)",
                     [advertiser_values(entry) for entry in ADVERTISERS])
            session.commit()
    finally:
        engine.dispose()


def caller_number(rng: random.Random) -> str:
    """A fictional caller, +1 AAA 555-01XX; numbers repeat now and then (repeat callers)."""
    return f"+1{rng.choice(CALLER_AREA_CODES)}5550{rng.randrange(100, 200)}"


def add_history(url: str, legs: int, per_call: int = 1000) -> None:
    """Finished legs from months ago, as a database in service for a while holds them.

    They are over (completed or failed, none counted against today's caps), so they change no
    decision; they only make the tables as large as a real history would.
    """
    if legs <= 0:
        return
    engine = sa.create_engine(url)
    long_ago = datetime(2025, 1, 6, tzinfo=UTC)
    try:
        with engine.begin() as conn:
            ids = [row[0] for row in conn.execute(sa.select(Advertiser.id).order_by(Advertiser.id))]
            for first in range(0, legs, per_call):
                call_id = conn.execute(sa.insert(Call).values(
                    call_sid=f"CAhistory{first:023d}", to_number=HELPLINE, number_kind="helpline",
                    state_signal="none", status=CallStatus.COMPLETED, started_at=long_ago,
                ).returning(Call.id)).scalar_one()
                conn.execute(sa.insert(CallAttempt), [
                    dict(call_id=call_id, attempt_number=n + 1, destination_kind="advertiser",
                         advertiser_id=ids[n % len(ids)], dialed_number="+15125550161",
                         status=AttemptStatus.COMPLETED if n % 5 else AttemptStatus.FAILED,
                         started_at=long_ago + timedelta(seconds=first + n),
                         expires_at=long_ago + timedelta(seconds=first + n + 80),
                         ended_at=long_ago + timedelta(seconds=first + n + 60))
                    for n in range(min(per_call, legs - first))
                ])
    finally:
        engine.dispose()
