"""One row of an import file: its fields checked, then held as a seeding ``FacilityRecord``.

The clean-up is the seeder's (``finder.seeding.normalize`` pads ZIPs and reads ``NA`` as empty,
``finder.seeding.phones`` normalizes phones and websites); what an import adds is refusing a row
instead of guessing: a row without a name, town or state, with a state that is not one, with
coordinates that are missing, not numbers, out of range or 0,0 (never geocoded), or with a
phone or website that is not valid fails with the reason, and the other rows go on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from finder.geo.gazetteer import MILITARY_STATES
from finder.geo.names import state_code
from finder.seeding.facilities import FacilityRecord
from finder.seeding.normalize import clean, pad_zip4, zip4_of, zip5
from finder.seeding.phones import normalize_phone, normalize_website
from finder.seeding.readers import Listing
from finder.seeding.sync import SOURCE_COLUMNS

#: What a listing says about the place (``data_source`` aside).
LISTING_COLUMNS = tuple(c for c in SOURCE_COLUMNS if c != "data_source")
#: What the locator writes for "no website".
_NO_WEBSITE = frozenset({"http://", "https://"})


class RowError(ValueError):
    """A row that cannot be imported; ``str(error)`` says why, for the report."""


@dataclass(frozen=True)
class Problem:
    """A row that failed or was skipped, with the reason shown to the person importing."""

    row: int
    name: str
    reason: str


@dataclass
class Candidate:
    """A checked row, ready to be matched with the facility it describes."""

    row: int
    record: FacilityRecord
    #: The file lists everything about the facility (HSDS): missing phones, a website or
    #: services it does not list are cleared, and its status and verification date are data.
    authoritative: bool = False
    #: Only the phones and website of an existing facility may change (mental-health listings
    #: describe a facility's other program; they are never added as facilities).
    contacts_only: bool = False
    #: Columns beyond the seeding record (HSDS: ``status``, ``last_verified_on``).
    extra: dict = field(default_factory=dict)
    #: The HSDS location id, to find a facility that has no ``source_key``.
    location_id: str | None = None
    #: The slug to give a new facility when no other facility has it (HSDS: the exported one).
    slug: str | None = None
    #: The facility columns the file has at all (None: all of them). A format without a column
    #: (the API has no county) leaves that column of a listed facility as it is.
    carried: frozenset[str] | None = None


def text(fields: Mapping[str, object], key: str) -> str | None:
    value = fields.get(key)
    return clean(None if value is None else str(value))


def _coordinate(raw: object, label: str, limit: int) -> float:
    value_text = clean(None if raw is None else str(raw))
    if value_text is None:
        raise RowError(f"missing {label}")
    try:
        value = float(value_text)
    except ValueError:
        raise RowError(f"{label} {value_text!r} is not a number") from None
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise RowError(f"{label} {value_text} is out of range (-{limit} to {limit})")
    return value


def listing_from(fields: Mapping[str, object]) -> Listing:
    """A checked ``Listing`` from a row's raw ``name1``, ``name2``, ``street1``, ``street2``,
    ``city``, ``state``, ``zip``, ``zip4``, ``county``, ``latitude`` and ``longitude``."""
    name1 = text(fields, "name1")
    if not name1:
        raise RowError("missing name (name1)")
    city = text(fields, "city")
    if not city:
        raise RowError("missing city")
    raw_state = text(fields, "state")
    if not raw_state:
        raise RowError("missing state")
    state = state_code(raw_state)
    if state is None or state in MILITARY_STATES:
        raise RowError(f"invalid state {raw_state!r}")
    raw_zip = text(fields, "zip")
    zip_code = zip5(raw_zip)
    if raw_zip and zip_code is None:
        raise RowError(f"invalid ZIP code {raw_zip!r}")
    latitude = _coordinate(fields.get("latitude"), "latitude", 90)
    longitude = _coordinate(fields.get("longitude"), "longitude", 180)
    if latitude == 0 and longitude == 0:
        raise RowError("coordinates 0,0 (the address was never geocoded)")
    return Listing(
        name1=name1,
        name2=text(fields, "name2"),
        street1=text(fields, "street1"),
        street2=text(fields, "street2"),
        city=city,
        state=state,
        zip=zip_code,
        zip4=pad_zip4(text(fields, "zip4")) or zip4_of(raw_zip),
        county=text(fields, "county"),
        latitude=latitude,
        longitude=longitude,
    )


def carried_columns(fields: Mapping[str, object], listing: Listing) -> frozenset[str]:
    """The listing columns a row's format has (``zip4`` also when the ZIP carries it)."""
    columns = {name for name in LISTING_COLUMNS if name in fields}
    if listing.zip4 is not None:
        columns.add("zip4")
    return frozenset(columns)


def check_contacts(
    phone: object, intake: object, website: object
) -> tuple[str | None, str | None, str | None]:
    """The row's phone, intake phone and website, cleaned; RowError for a value that is given
    but is not a valid phone number or web address (the locator's bare "http://" is empty)."""
    phone_text, intake_text, site = (
        clean(None if value is None else str(value)) for value in (phone, intake, website)
    )
    for label, value in (("phone", phone_text), ("intake phone", intake_text)):
        if value and normalize_phone(value) is None:
            raise RowError(f"invalid {label} {value!r}")
    if site and site.lower() in _NO_WEBSITE:
        site = None
    if site and normalize_website(site) is None:
        raise RowError(f"invalid website {site!r}")
    return phone_text, intake_text, site
