"""Reading what a visitor typed in the location box: a ZIP, coordinates, a city or an address.

Pure functions, no database: the parser proposes readings and the gazetteer picks the one that
exists ("1014 East Market Street Charlottesville VA" may end in the city "Charlottesville" or
"Street Charlottesville"; only the gazetteer knows).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from finder.geo.bounds import in_us
from finder.geo.names import state_code

MAX_QUERY_LENGTH = 200
#: The longest city name a street address is split into ("Rancho Santa Margarita" has 3 words).
MAX_CITY_WORDS = 4

_ZIP_ONLY = re.compile(r"(\d{5})(?:-?\d{4})?")
_TRAILING_ZIP = re.compile(r"(?:^|[\s,])(\d{5})(?:-\d{4})?$")
_TRAILING_COUNTRY = re.compile(
    r"[\s,]+(?:usa|u\.s\.a\.?|us|u\.s\.?|united states(?: of america)?)$", re.IGNORECASE
)
_NUMBER = r"([-+]?(?:\d{1,3}(?:\.\d*)?|\.\d+))\s*°?\s*"
_COORDINATES = re.compile(
    rf"\(?\s*{_NUMBER}([NS])?\s*(?:,|\s)\s*{_NUMBER}([EW])?\s*\)?", re.IGNORECASE
)
_HOUSE_NUMBER = re.compile(r"^\d+[a-z]?(?:-\d+[a-z]?)?$", re.IGNORECASE)
#: Words that say "this is a street", so the words after the last one are the city.
STREET_WORDS = frozenset(
    """
    st street ave av avenue rd road blvd boulevard dr drive ln lane way hwy highway pkwy parkway
    ct court pl place sq square ter terrace cir circle trl trail pike tpke turnpike expy expressway
    fwy freeway loop row aly alley plz plaza box suite ste apt unit bldg building floor fl
    """.split()
)


@dataclass(frozen=True)
class Reading:
    """One way to split the text into a street part and a city name."""

    city: str
    street: str | None = None


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    zip: str | None = None
    coordinates: tuple[float, float] | None = None
    #: A state named in the text ("TX", "Texas", "Mo."), as a two-letter code.
    state: str | None = None
    #: City readings, most specific (longest city) first; empty for a bare ZIP or coordinates.
    readings: tuple[Reading, ...] = ()
    #: The text was only a state ("Texas"): its readings treat it as a city name without a state.
    state_only: bool = False


def clean_query(text: object) -> str:
    """Control characters removed, whitespace collapsed, ends stripped; None becomes ""."""
    if text is None:
        return ""
    chars = []
    for char in str(text):
        category = unicodedata.category(char)
        if category == "Cc":
            chars.append(" ")  # tabs and newlines separate words
        elif category[0] != "C":
            chars.append(char)  # format characters (zero-width spaces, bidi marks) are dropped
    return " ".join("".join(chars).split())


def parse_zip(text: str) -> str | None:
    """``"78701"``, ``"78701-1234"`` or ``"787011234"`` → ``"78701"``; None otherwise."""
    match = _ZIP_ONLY.fullmatch(text.strip())
    return match.group(1) if match else None


def parse_coordinates(text: str) -> tuple[float, float] | None:
    """A typed "lat, lon" pair (or "lon, lat" when only that order is in the US) → (lat, lon).

    A decimal point is required so that "30 97" is not read as coordinates; hemisphere letters
    ("30.27 N, 97.74 W") are understood. None when the text is not a pair of valid coordinates.
    """
    match = _COORDINATES.fullmatch(text.strip())
    if not match or "." not in text:
        return None
    first, first_hemisphere, second, second_hemisphere = match.groups()
    try:
        a, b = float(first), float(second)
    except ValueError:
        return None
    if (first_hemisphere or "").upper() == "S":
        a = -abs(a)
    if (second_hemisphere or "").upper() == "W":
        b = -abs(b)
    as_written_valid = abs(a) <= 90 and abs(b) <= 180
    swapped_valid = abs(b) <= 90 and abs(a) <= 180
    if first_hemisphere or second_hemisphere:
        return (a, b) if as_written_valid else None
    if as_written_valid and (in_us(a, b) or not (swapped_valid and in_us(b, a))):
        return a, b
    if swapped_valid:
        return b, a
    return None


def _smart_case(text: str) -> str:
    """Capitalize words typed all in lower or upper case; leave mixed case as the visitor wrote."""
    if text != text.lower() and text != text.upper():
        return text
    return " ".join(word[:1].upper() + word[1:].lower() for word in text.split())


def split_state(words: list[str]) -> tuple[list[str], str | None]:
    """Take a state (one to three words, longest first) off the end of ``words``."""
    for size in (3, 2, 1):
        if len(words) >= size:
            code = state_code(" ".join(words[-size:]))
            if code:
                return words[:-size], code
    return words, None


def _looks_like_street(words: list[str]) -> bool:
    return bool(words) and (
        _HOUSE_NUMBER.match(words[0]) is not None
        or any(word.lower().strip(".#") in STREET_WORDS for word in words[:-1])
    )


def _street_readings(words: list[str], street_prefix: str | None) -> list[Reading]:
    """Every split of "<street words> <city words>", longest city first.

    The whole text is a reading too ("St Louis" starts with a street word but is a city).
    """
    readings = []
    for size in range(min(MAX_CITY_WORDS, len(words)), 0, -1):
        city_words = words[-size:]
        if any(char.isdigit() for word in city_words for char in word):
            continue
        street = ", ".join(part for part in (street_prefix, " ".join(words[:-size])) if part)
        readings.append(Reading(city=" ".join(city_words), street=_smart_case(street) or None))
    return readings


def parse_query(text: str) -> ParsedQuery:
    """Read a cleaned query; see the module docstring. Never raises."""
    text = clean_query(text)
    zip5 = parse_zip(text)
    if zip5:
        return ParsedQuery(text=text, zip=zip5)
    coordinates = parse_coordinates(text)
    if coordinates:
        return ParsedQuery(text=text, coordinates=coordinates)

    rest = _TRAILING_COUNTRY.sub("", text).strip(" ,")
    match = _TRAILING_ZIP.search(rest)
    if match:
        zip5 = match.group(1)
        rest = rest[: match.start()].strip(" ,")
    parts = [part.strip() for part in rest.split(",") if part.strip()]
    if not parts:
        return ParsedQuery(text=text, zip=zip5)

    words, state = split_state(parts[-1].split())
    if not words and len(parts) == 1:
        # The whole text is a state name, but "New York" and "Washington" are also cities.
        return ParsedQuery(
            text=text, zip=zip5, state=state, readings=(Reading(city=rest),), state_only=True
        )
    if not words:
        parts.pop()
        words = parts[-1].split()
    street_prefix = ", ".join(parts[:-1]) or None
    readings: list[Reading] = []
    if _looks_like_street(words):
        readings = _street_readings(words, street_prefix)
    if not readings:
        street = _smart_case(street_prefix) if street_prefix else None
        readings = [Reading(city=" ".join(words), street=street)]
    return ParsedQuery(text=text, zip=zip5, state=state, readings=tuple(readings))
