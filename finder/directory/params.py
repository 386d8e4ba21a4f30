"""Parsing and validating search arguments (location or point, radius, services, page)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: Longer input is not a place anybody types; refusing it keeps geocoders from chewing on it.
MAX_LOCATION_LENGTH = 200
MAX_SERVICE_CODES = 30
SERVICE_CODE_PATTERN = re.compile(r"^[A-Z0-9]{1,16}$")


@dataclass(frozen=True)
class SearchParams:
    """Validated search arguments; either ``location`` or ``latitude``/``longitude`` is set."""

    location: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    radius_miles: float = 25
    service_codes: tuple[str, ...] = field(default_factory=tuple)
    page: int = 1
    per_page: int = 10

    @property
    def has_point(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @property
    def has_place(self) -> bool:
        return self.has_point or bool(self.location)


def _values(args: Mapping, name: str) -> list[str]:
    """Every value of ``name``: works with a werkzeug MultiDict and with a plain dict."""
    if hasattr(args, "getlist"):
        return [str(v) for v in args.getlist(name)]
    value = args.get(name)
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _first(args: Mapping, name: str) -> str:
    values = _values(args, name)
    return values[0].strip() if values else ""


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_point(lat_text: str, lon_text: str) -> tuple[float, float] | str:
    """``(latitude, longitude)`` or an error message."""
    lat, lon = _number(lat_text), _number(lon_text)
    if lat is None or lon is None:
        return "Latitude and longitude must both be numbers."
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return "Latitude must be between -90 and 90 and longitude between -180 and 180."
    return lat, lon


def parse_radius(
    text: str, *, radii: Iterable[float] | None = None, max_radius: float = 100
) -> float | str:
    """A radius in miles (one of ``radii`` when given, else 0 < r <= max_radius) or an error."""
    value = _number(text)
    allowed = sorted(float(r) for r in radii) if radii is not None else None
    if allowed is not None:
        if value is None or value not in allowed:
            choices = ", ".join(f"{r:g}" for r in allowed[:-1])
            choices = f"{choices} or {allowed[-1]:g}" if choices else f"{allowed[-1]:g}"
            return f"Choose a distance of {choices} miles."
        return value
    if value is None or not 0 < value <= max_radius:
        return f"The distance must be a number of miles above 0 and up to {max_radius:g}."
    return value


def parse_service_codes(values: Iterable[str]) -> tuple[str, ...] | str:
    """Upper-cased, de-duplicated codes from repeated and/or comma-separated values, or an error."""
    codes: list[str] = []
    for value in values:
        if any(ord(char) < 32 for char in value):
            # strip() would quietly drop some (tabs, \x1c-\x1f); the API refuses them all.
            return "Service codes are short letters and digits, such as MD or SF."
        for part in value.split(","):
            code = part.strip().upper()
            if not code:
                continue
            if not SERVICE_CODE_PATTERN.match(code):
                return "Service codes are short letters and digits, such as MD or SF."
            if code not in codes:
                codes.append(code)
    if len(codes) > MAX_SERVICE_CODES:
        return f"Choose at most {MAX_SERVICE_CODES} services."
    return tuple(codes)


def parse_positive_int(text: str, *, maximum: int, name: str) -> int | str:
    # ASCII digits only ("²" is a digit to isdigit() but not to int()), and no more of them
    # than the maximum has (int() refuses strings of over 4,300 digits).
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(maximum))
    if not digits or not 1 <= int(text) <= maximum:
        return f"The {name} must be a whole number from 1 to {maximum:,}."
    return int(text)


def parse_search_args(
    args: Mapping,
    *,
    radii: Iterable[float] | None = None,
    max_radius: float = 100,
    default_radius: float = 25,
    per_page: int = 10,
    max_per_page: int | None = None,
    max_page: int = 10_000,
    require_place: bool = True,
) -> SearchParams | dict[str, str]:
    """Validate ``location`` or ``lat``+``lon``, ``radius``, ``service``, ``page``, ``per_page``.

    Returns a :class:`SearchParams`, or a dict of parameter name -> visitor-readable message.
    ``radii`` restricts the radius to those values (the page's select); without it any
    ``0 < radius <= max_radius`` is accepted (the API). A ``per_page`` argument is only read when
    ``max_per_page`` is given; otherwise every page holds ``per_page`` results. A typed location
    wins over ``lat``/``lon``: a results page for a point keeps the point in hidden fields, and a
    visitor who then types a place means that place.
    """
    errors: dict[str, str] = {}
    values: dict = {"per_page": per_page}

    location = " ".join(_first(args, "location").split())
    lat_text, lon_text = _first(args, "lat"), _first(args, "lon")
    if len(location) > MAX_LOCATION_LENGTH:
        errors["location"] = (
            f"That is too long for a place ({MAX_LOCATION_LENGTH} characters at most). "
            "Enter a ZIP code, a city and state, or a street address."
        )
    elif location:
        values["location"] = location
    elif lat_text or lon_text:
        point = parse_point(lat_text, lon_text)
        if isinstance(point, str):
            errors["lat"] = point
        else:
            values["latitude"], values["longitude"] = point
    elif require_place:
        errors["location"] = "Enter a ZIP code, city or address."

    radius_text = _first(args, "radius")
    if radius_text:
        radius = parse_radius(radius_text, radii=radii, max_radius=max_radius)
        if isinstance(radius, str):
            errors["radius"] = radius
        else:
            values["radius_miles"] = radius
    else:
        values["radius_miles"] = float(default_radius)

    codes = parse_service_codes(_values(args, "service"))
    if isinstance(codes, str):
        errors["service"] = codes
    else:
        values["service_codes"] = codes

    page_text = _first(args, "page")
    if page_text:
        page = parse_positive_int(page_text, maximum=max_page, name="page number")
        if isinstance(page, str):
            errors["page"] = page
        else:
            values["page"] = page

    per_page_text = _first(args, "per_page")
    if max_per_page is not None and per_page_text:
        size = parse_positive_int(per_page_text, maximum=max_per_page, name="page size")
        if isinstance(size, str):
            errors["per_page"] = size
        else:
            values["per_page"] = size

    if errors:
        return errors
    return SearchParams(**values)
