"""Where a search is centred: ``locate`` reads what a visitor typed, ``place_from_point`` a
browser's coordinates. Both return a labelled Place or explain why they cannot.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from enum import StrEnum

from flask import Flask, current_app
from geopy.location import Location

from finder.geo.address import MAX_QUERY_LENGTH, clean_query, parse_query
from finder.geo.geocoder import GazetteerGeocoder, GazetteerMiss
from finder.geo.online import OnlineGeocoder, build_online_geocoder

EMPTY_MESSAGE = "Enter a ZIP code, a city and state, or a street address."
TOO_LONG_MESSAGE = (
    f"That search is too long. Enter a ZIP code, a city and state, or a street address "
    f"(at most {MAX_QUERY_LENGTH} characters)."
)
GENERIC_HINTS = ("Try a 5-digit ZIP code", "Try a city and state, like Austin, TX")
_EXTENSION_KEY = "finder.geocoding"
_build_lock = threading.Lock()


class Precision(StrEnum):
    COORDINATES = "coordinates"
    ADDRESS = "address"
    ZIP = "zip"
    CITY = "city"


@dataclass(frozen=True)
class Place:
    label: str
    latitude: float
    longitude: float
    precision: Precision
    #: True when a street address was resolved to a ZIP or city centre.
    approximate: bool
    state: str | None = None
    zip: str | None = None
    #: Other places the text could mean ("Austin, MN" for "Austin"), most likely first.
    alternatives: tuple[str, ...] = ()

    @property
    def note(self) -> str | None:
        """A sentence for the UI when the place is approximate; None otherwise."""
        if not self.approximate:
            return None
        if self.precision is Precision.ZIP and self.zip:
            return f"Approximate: distances are measured from the centre of ZIP {self.zip}."
        return "Approximate: distances are measured from the centre of the city."


class PlaceNotFound(ValueError):
    """``str(error)`` is a message for the visitor; ``suggestions`` are things to try instead."""

    def __init__(self, message: str, *, query: str = "", suggestions=()):
        super().__init__(message)
        self.query = query
        self.suggestions = list(dict.fromkeys([*suggestions, *GENERIC_HINTS]))


@dataclass
class _Geocoders:
    gazetteer: GazetteerGeocoder
    online: OnlineGeocoder | None


def geocoders(app: Flask | None = None) -> _Geocoders:
    """The app's geocoders, built on first use and kept on ``app.extensions``."""
    app = app or current_app._get_current_object()
    found = app.extensions.get(_EXTENSION_KEY)
    if found is None:
        with _build_lock:
            found = app.extensions.get(_EXTENSION_KEY)
            if found is None:
                found = _Geocoders(GazetteerGeocoder(), build_online_geocoder(app.config))
                app.extensions[_EXTENSION_KEY] = found
    return found


def locate(query: str) -> Place:
    """The place ``query`` names; raises PlaceNotFound. Needs an app context.

    A bare ZIP or a "lat, lon" pair is answered by the gazetteer, which is exact for them. Other
    text goes to the online geocoder first when one is configured, then to the gazetteer.
    """
    text = "" if query is None else str(query).strip()
    if len(text) > MAX_QUERY_LENGTH:
        raise PlaceNotFound(TOO_LONG_MESSAGE, query=text[:MAX_QUERY_LENGTH])
    text = clean_query(text)
    if not text:
        raise PlaceNotFound(EMPTY_MESSAGE, query=text)

    chain = geocoders()
    parsed = parse_query(text)
    if chain.online is not None and not parsed.coordinates and not (
        parsed.zip and not parsed.readings
    ):
        result = chain.online.lookup(text)
        if result is not None:
            state = result.state
            if state is None:
                near = chain.gazetteer.nearest(result.latitude, result.longitude)
                state = near[0].state if near else None
            return Place(
                label=result.label,
                latitude=result.latitude,
                longitude=result.longitude,
                precision=Precision.ADDRESS,
                approximate=False,
                state=state,
                zip=result.zip,
            )
    try:
        locations = chain.gazetteer.resolve(parsed)
    except GazetteerMiss as miss:
        raise PlaceNotFound(miss.message, query=text, suggestions=miss.suggestions) from None
    return place_from_location(locations[0])


def place_from_location(location: Location) -> Place:
    """A Place for a Location from the gazetteer geocoder (its raw dict carries the details)."""
    raw = location.raw
    return Place(
        label=raw["label"],
        latitude=location.latitude,
        longitude=location.longitude,
        precision=Precision(raw["precision"]),
        approximate=raw["approximate"],
        state=raw.get("state"),
        zip=raw.get("zip"),
        alternatives=tuple(raw.get("alternatives", ())),
    )


def place_from_point(latitude: float, longitude: float) -> Place:
    """A Place for a visitor's own coordinates; ValueError unless they are finite and in range.

    Labelled "your location (near Austin, TX)" when a gazetteer ZIP lies within 25 miles.
    """
    try:
        if isinstance(latitude, bool) or isinstance(longitude, bool):
            raise TypeError
        latitude, longitude = float(latitude), float(longitude)
    except (TypeError, ValueError):
        raise ValueError("Latitude and longitude must be numbers.") from None
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise ValueError("Latitude and longitude must be finite numbers.")
    if not -90 <= latitude <= 90:
        raise ValueError("Latitude must be between -90 and 90.")
    if not -180 <= longitude <= 180:
        raise ValueError("Longitude must be between -180 and 180.")
    near = geocoders().gazetteer.nearest(latitude, longitude)
    label, state = "your location", None
    if near:
        point = near[0]
        label, state = f"your location (near {point.city}, {point.state})", point.state
    return Place(
        label=label,
        latitude=latitude,
        longitude=longitude,
        precision=Precision.COORDINATES,
        approximate=False,
        state=state,
    )
