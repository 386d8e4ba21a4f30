"""The fictional demo pool that ``flask seed`` adds, so the whole call flow can be tried locally.

Every advertiser is an invented example, named "(fictional)", with a 555-01XX number (the range
set aside for fiction). Credentials are invented too, valid until 2030 except where a demo needs
otherwise: one advertiser's license has expired, and one has a monthly cap of 0, so it is always
"at its cap" whatever the clock says. The facility tracking numbers ring real facilities' own
listed phones; only the tracking numbers themselves are fictional. Everything is marked
``is_demo``. Running it again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from finder.calls.models import Advertiser, AdvertiserPool, NumberKind, TrackingNumber
from finder.directory.models import Facility, FacilityStatus

POOL_NAME = "Demo helpline pool (fictional)"
HELPLINE_NUMBER = "+18005550199"
#: Facility tracking numbers, given to the first facilities of FACILITY_CITY with a phone.
FACILITY_NUMBERS = ("+14345550101", "+14345550102", "+14345550103", "+14345550104",
                    "+14345550105")
FACILITY_CITY = ("Charlottesville", "VA")

VALID_UNTIL = date(2030, 12, 31)
EXPIRED_ON = date(2026, 6, 30)
ACCREDITOR = "Example Accreditation Council (fictional)"

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
AROUND_THE_CLOCK = {day: [["00:00", "00:00"]] for day in _DAYS}


def _hours(weekdays: tuple[str, str], weekend: tuple[str, str] | None) -> dict:
    hours = {day: [list(weekdays)] for day in _DAYS[:5]}
    if weekend:
        hours.update({day: [list(weekend)] for day in _DAYS[5:]})
    return hours


#: name, city, state, phone, time zone, tier, weight, caps (day, month, concurrent), hours, states
ADVERTISERS = (
    ("Example Recovery Center (fictional)", "Austin", "TX", "+15125550100", "America/Chicago",
     1, 3, (40, 800, 3), AROUND_THE_CLOCK, ["AR", "LA", "NM", "OK", "TX"]),
    ("Example Pacific Treatment Center (fictional)", "Los Angeles", "CA", "+12135550101",
     "America/Los_Angeles", 1, 2, (25, 500, 2), _hours(("08:00", "20:00"), ("09:00", "17:00")),
     ["AZ", "CA", "NV", "OR"]),
    ("Example Hudson Recovery Services (fictional)", "New York", "NY", "+12125550102",
     "America/New_York", 1, 1, (20, 400, 2), _hours(("07:00", "23:00"), ("09:00", "21:00")),
     ["CT", "DC", "MD", "NJ", "NY", "PA", "VA"]),
    # Tier 2, overnight: the backup when tier 1 is closed or full.
    ("Example Front Range Recovery (fictional)", "Denver", "CO", "+13035550103", "America/Denver",
     2, 1, (15, 300, 1), {day: [["18:00", "08:00"]] for day in _DAYS},
     ["CA", "CO", "NM", "NY", "TX", "UT", "VA", "WY"]),
    # Its state license expired: never eligible until it is renewed.
    ("Example Desert Wellness Center (fictional)", "Phoenix", "AZ", "+16025550104",
     "America/Phoenix", 1, 2, (20, 400, 2), AROUND_THE_CLOCK, ["AZ", "CA", "NM", "TX"]),
    # A monthly cap of 0: always at its cap.
    ("Example Lakeside Recovery (fictional)", "Chicago", "IL", "+13125550105", "America/Chicago",
     1, 1, (20, 0, 2), AROUND_THE_CLOCK, ["IL", "IN", "TX", "WI"]),
)
EXPIRED_LICENSE = "Example Desert Wellness Center (fictional)"
AT_ITS_CAP = "Example Lakeside Recovery (fictional)"


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def count(self, created: bool, changed: bool) -> None:
        if created:
            self.created += 1
        elif changed:
            self.updated += 1
        else:
            self.unchanged += 1

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


@dataclass
class DemoResult:
    pool: Tally
    advertisers: Tally
    numbers: Tally
    facilities: list[str]

    def lines(self) -> list[str]:
        return [
            f"Demo call routing (fictional): pool {POOL_NAME!r} ({self.pool}), "
            f"{len(ADVERTISERS)} advertisers ({self.advertisers}); helpline {HELPLINE_NUMBER} "
            f"and {len(self.facilities)} facility numbers ({self.numbers})."
        ]


def _apply(row, values: dict) -> bool:
    """Set the values that differ; True when anything did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _upsert(session: Session, model, key: dict, values: dict, tally: Tally):
    row = session.execute(sa.select(model).filter_by(**key)).scalar_one_or_none()
    created = row is None
    if created:
        row = model(**key)
        session.add(row)
    changed = _apply(row, values)
    tally.count(created, changed)
    return row


def advertiser_values(entry: tuple) -> dict:
    name, city, state, phone, zone, tier, weight, caps, hours, states = entry
    serial = phone[-4:]
    return dict(
        city=city, state=state, phone=phone, timezone=zone, tier=tier, weight=weight,
        daily_cap=caps[0], monthly_cap=caps[1], concurrent_cap=caps[2],
        hours=hours, states_served=states,
        license_number=f"DEMO-{state}-{serial}", license_state=state,
        license_expires_on=EXPIRED_ON if name == EXPIRED_LICENSE else VALID_UNTIL,
        accreditation_body=ACCREDITOR, accreditation_expires_on=VALID_UNTIL,
        certification_id=f"DEMO-CERT-{serial}", certification_expires_on=VALID_UNTIL,
        contract_starts_on=date(2025, 1, 1), contract_ends_on=VALID_UNTIL,
        pricing_basis="per answered call (demo: nothing is billed)",
        consent_to_be_named=True, active=True, is_demo=True, facility_id=None,
    )


def demo_facilities(session: Session) -> list[Facility]:
    """The real facilities that get demo numbers: the first with a phone, by slug."""
    city, state = FACILITY_CITY
    return list(session.execute(
        sa.select(Facility)
        .where(Facility.city == city, Facility.state == state,
               Facility.status == FacilityStatus.ACTIVE,
               sa.or_(Facility.phone.is_not(None), Facility.intake_phone.is_not(None)))
        .order_by(Facility.slug)
        .limit(len(FACILITY_NUMBERS))
    ).scalars())


def seed_demo(session: Session) -> DemoResult:
    """Add (or bring back to its defined state) the demo pool and numbers. Idempotent."""
    pools, advertisers, numbers = Tally(), Tally(), Tally()
    pool = _upsert(session, AdvertiserPool, {"name": POOL_NAME}, dict(
        ask_for_zip=False, max_attempts=3, repeat_window_days=30, min_answer_rate=0.5,
        is_demo=True,
    ), pools)
    session.flush()
    for entry in ADVERTISERS:
        _upsert(session, Advertiser, {"pool_id": pool.id, "name": entry[0]},
                advertiser_values(entry), advertisers)
    _upsert(session, TrackingNumber, {"number": HELPLINE_NUMBER}, dict(
        kind=NumberKind.HELPLINE, pool_id=pool.id, facility_id=None,
        label="Demo helpline (fictional)", is_demo=True,
    ), numbers)
    facilities = demo_facilities(session)
    for number, facility in zip(FACILITY_NUMBERS, facilities, strict=False):
        _upsert(session, TrackingNumber, {"number": number}, dict(
            kind=NumberKind.FACILITY, facility_id=facility.id, pool_id=None,
            label=f"Demo number (fictional) for {facility.name1}"[:200], is_demo=True,
        ), numbers)
    session.flush()
    return DemoResult(pools, advertisers, numbers, [f.slug for f in facilities])
