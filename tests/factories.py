"""Fixture factories for call-routing tests: pools, advertisers, facilities, tracking numbers.

Every phone number made here is in the fictional 555-0100..555-0199 range.
"""

from __future__ import annotations

import itertools
from datetime import date

from finder.calls.models import Advertiser, AdvertiserPool, NumberKind, TrackingNumber
from finder.directory.models import Facility

_serial = itertools.count(1)
#: Area codes whose 555-01XX numbers phonenumbers accepts as valid.
_AREA_CODES = ("512", "213", "212", "303", "434", "720", "312", "615")

#: Credentials valid until well after any clock the tests use.
VALID_UNTIL = date(2031, 12, 31)


def fictional_number(serial: int | None = None) -> str:
    """A distinct fictional E.164 number, +1 AAA 555-01XX."""
    n = next(_serial) if serial is None else serial
    area = _AREA_CODES[(n // 100) % len(_AREA_CODES)]
    return f"+1{area}5550{100 + n % 100}"


def all_week(start: str = "00:00", end: str = "00:00") -> dict:
    """Hours JSON for every weekday (the default, 00:00-00:00, means around the clock)."""
    return {day: [[start, end]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def make_pool(session, **fields) -> AdvertiserPool:
    pool = AdvertiserPool(name=fields.pop("name", f"Test pool {next(_serial)}"), **fields)
    session.add(pool)
    session.flush()
    return pool


def make_advertiser(session, pool: AdvertiserPool, **fields) -> Advertiser:
    """An advertiser that is eligible around the clock for TX callers unless ``fields`` say not."""
    serial = next(_serial)
    values = dict(
        name=f"Example Recovery Center {serial} (fictional)",
        city="Austin",
        state="TX",
        phone=fictional_number(serial),
        tier=1,
        weight=1,
        timezone="America/Chicago",
        hours=all_week(),
        states_served=["TX"],
        license_number=f"TEST-LIC-{serial}",
        license_state="TX",
        license_expires_on=VALID_UNTIL,
        accreditation_body="Example Accreditation Council (fictional)",
        accreditation_expires_on=VALID_UNTIL,
        certification_id=f"TEST-CERT-{serial}",
        certification_expires_on=VALID_UNTIL,
        contract_starts_on=date(2025, 1, 1),
        contract_ends_on=VALID_UNTIL,
        pricing_basis="per call",
        consent_to_be_named=True,
        active=True,
    )
    values.update(fields)
    advertiser = Advertiser(pool=pool, **values)
    session.add(advertiser)
    session.flush()
    return advertiser


def make_facility(session, **fields) -> Facility:
    """A facility with a (fictional) phone unless ``phone=None`` is given."""
    serial = next(_serial)
    values = dict(
        slug=f"test-facility-{serial}",
        name1=f"Test Facility {serial}",
        city="Charlottesville",
        state="VA",
        zip="22902",
        latitude=38.0293,
        longitude=-78.4767,
        phone=fictional_number(serial),
        data_source="test factory",
    )
    values.update(fields)
    facility = Facility(**values)
    session.add(facility)
    session.flush()
    return facility


def make_tracking_number(session, *, facility: Facility | None = None,
                         pool: AdvertiserPool | None = None, **fields) -> TrackingNumber:
    """A facility number when ``facility`` is given, otherwise a helpline number of ``pool``."""
    if (facility is None) == (pool is None):
        raise ValueError("give exactly one of facility or pool")
    number = TrackingNumber(
        number=fields.pop("number", None) or fictional_number(),
        kind=NumberKind.FACILITY if facility is not None else NumberKind.HELPLINE,
        facility=facility,
        pool=pool,
        **fields,
    )
    session.add(number)
    session.flush()
    return number


def make_zip(session, zip_code: str, state: str, city: str = "Example City", **fields):
    """A ZIP gazetteer row (the ZIP a caller keys in maps to its state)."""
    from finder.geo.models import ZipCode

    values = dict(zip=zip_code, zip_type="STANDARD", city=city, city_key=city.lower(),
                  state=state, latitude=35.0, longitude=-97.0, timezone="America/Chicago")
    values.update(fields)
    row = ZipCode(**values)
    session.add(row)
    session.flush()
    return row
