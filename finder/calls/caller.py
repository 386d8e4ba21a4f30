"""What finder may know about a caller: a keyed hash, the last four digits, and a state.

The caller's number itself is never stored or logged: ``CallerIdentity`` keeps only an
HMAC-SHA256 of the E.164 number under a secret key, and its last four digits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import geocoder as phone_geocoder

from finder.geo.names import state_code


class StateSignal:
    AREA_CODE = "area_code"
    ZIP = "zip"
    TWILIO_FROM_STATE = "twilio_from_state"
    NONE = "none"


@dataclass(frozen=True)
class CallerIdentity:
    number_hash: str | None  #: hex HMAC-SHA256 of the E.164 number; None when withheld
    last_four: str | None


def normalize(raw: str | None) -> str | None:
    """E.164 for a valid number, None for anything else (withheld, "anonymous", garbage)."""
    if not raw:
        return None
    try:
        parsed = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def identify(raw: str | None, key: bytes) -> CallerIdentity:
    number = normalize(raw)
    if number is None:
        return CallerIdentity(None, None)
    digest = hmac.new(key, number.encode(), hashlib.sha256).hexdigest()
    return CallerIdentity(digest, number[-4:])


def state_from_number(raw: str | None) -> str | None:
    """The US state of a geographic number's area code, from phonenumbers' offline data."""
    number = normalize(raw)
    if number is None:
        return None
    parsed = phonenumbers.parse(number)
    if phonenumbers.region_code_for_number(parsed) not in {"US", "PR"}:
        return None
    description = phone_geocoder.description_for_number(parsed, "en")
    if not description:  # toll-free and non-geographic numbers have no place
        return None
    return state_code(description.rsplit(",", 1)[-1])


def caller_state(
    from_number: str | None,
    keyed_zip_state: str | None = None,
    twilio_from_state: str | None = None,
) -> tuple[str | None, str]:
    """The caller's state and the signal it came from, strongest first.

    A ZIP the caller keyed in says where they are now; the area code says where the number was
    issued; Twilio's FromState is derived the same way but is only a fallback.
    """
    if keyed_zip_state:
        return keyed_zip_state, StateSignal.ZIP
    state = state_from_number(from_number)
    if state:
        return state, StateSignal.AREA_CODE
    fallback = state_code(twilio_from_state) if twilio_from_state else None
    if fallback:
        return fallback, StateSignal.TWILIO_FROM_STATE
    return None, StateSignal.NONE


_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{5,}\d")


def _mask(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "•" * (len(digits) - 4) + digits[-4:]


def redact(text: str) -> str:
    """Mask phone-number-like runs of digits in a log message, keeping the last four."""
    return _PHONE_LIKE.sub(_mask, text)
