"""Checks of what staff and visitors type for a listing: phones, websites, ZIPs, coordinates.

Each ``parse_*`` returns the normalized value (None for an empty entry) or raises
``ValueError`` whose text is a field-level message. Plain functions, usable without a request.
"""

from __future__ import annotations

import math
import re

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from finder.geo.bounds import STATE_BOXES, states_containing
from finder.geo.gazetteer import MILITARY_STATES
from finder.geo.models import ZipCode
from finder.geo.names import US_STATES
from finder.seeding.phones import normalize_website

WEBSITE_MAX_LENGTH = 500
#: States and territories a facility can be in (APO/FPO "states" are not places).
FACILITY_STATES = {code: name for code, name in US_STATES.items() if code not in MILITARY_STATES}
_ZIP = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")
#: "javascript:", "mailto:", "ftp:"... (a scheme without "//", which "example.org:8080" is not)
_OTHER_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:(?!\d)", re.IGNORECASE)


def parse_phone(raw: str | None) -> str | None:
    """E.164 for a North American number, an extension kept as ``;ext=NNN`` (as the seeded
    data stores it): ``"(434) 979-8871 x301"`` → ``"+14349798871;ext=301"``."""
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) > 40:
        raise ValueError("That is too long for a phone number.")
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        raise ValueError(
            "Enter a phone number, like (434) 979-8871 or 434-979-8871 x301."
        ) from None
    if number.country_code != 1:
        raise ValueError("Enter a US phone number (country code +1).")
    if not phonenumbers.is_valid_number(number):
        raise ValueError("That is not a valid US phone number. Check the area code and digits.")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{e164};ext={number.extension}" if number.extension else e164


def parse_website(raw: str | None) -> str | None:
    """An http or https URL. Without a scheme, ``https://`` is added: staff and visitors type
    "example.org", and sites that still serve plain http redirect from https rarely fail the
    other way round. Other schemes (javascript:, ftp:, mailto:) are refused."""
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) > WEBSITE_MAX_LENGTH:
        raise ValueError(f"Use a web address of at most {WEBSITE_MAX_LENGTH} characters.")
    if "://" in text:
        if not text.lower().startswith(("http://", "https://")):
            raise ValueError("Use a web address starting with http:// or https://.")
    elif _OTHER_SCHEME.match(text):
        raise ValueError("Use a web address starting with http:// or https://.")
    else:
        text = "https://" + text
    if "\\" in text:
        raise ValueError("A web address cannot contain a backslash.")
    url = normalize_website(text)
    if url is None:
        raise ValueError("Enter a web address like https://example.org.")
    return url


def parse_zip(raw: str | None) -> tuple[str, str | None]:
    """``"22902"`` or ``"22902-1234"`` → ``("22902", "1234")``."""
    match = _ZIP.match((raw or "").strip())
    if not match:
        raise ValueError("Enter a 5-digit ZIP code, like 22902 (or ZIP+4, like 22902-1234).")
    return match.group(1), match.group(2)


def check_zip_in_state(session: Session, zip5: str, state: str) -> None:
    """The ZIP must be in the gazetteer and belong to ``state``."""
    row = session.execute(select(ZipCode.state).where(ZipCode.zip == zip5)).first()
    if row is None:
        raise ValueError(f"ZIP code {zip5} is not in our ZIP code list. Check the digits.")
    if row.state != state:
        name = FACILITY_STATES.get(row.state, row.state)
        raise ValueError(f"ZIP code {zip5} is in {name} ({row.state}), not {state}.")


def check_point(latitude: float, longitude: float, state: str | None) -> None:
    """Finite, in range, and (where the state's rough box is known) inside the state, which
    catches swapped coordinates and a dropped minus sign."""
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise ValueError("Coordinates must be numbers.")
    if not -90 <= latitude <= 90:
        raise ValueError("Latitude must be between -90 and 90.")
    if not -180 <= longitude <= 180:
        raise ValueError("Longitude must be between -180 and 180.")
    if state in STATE_BOXES and state not in states_containing(latitude, longitude):
        raise ValueError(
            f"That point is not in {FACILITY_STATES.get(state, state)}. US longitudes are "
            "negative (west); check that latitude and longitude are not swapped."
        )
