"""The offline geocoder: geopy's interface over the ZIP gazetteer in the database.

Answers ZIPs, "lat, lon" pairs, cities ("Austin, TX", "st louis mo", "Austin") and street
addresses, which it resolves to their ZIP's or city's centre and marks approximate. It never
touches the network, and never imports the ``zipcodes`` package (too large for a web process).
"""

from __future__ import annotations

from collections.abc import Callable

from geopy.adapters import BaseSyncAdapter
from geopy.exc import GeocoderServiceError
from geopy.geocoders.base import DEFAULT_SENTINEL, Geocoder
from geopy.location import Location
from geopy.point import Point
from sqlalchemy.orm import Session, scoped_session

from finder.geo import gazetteer
from finder.geo.address import ParsedQuery, Reading, parse_query
from finder.geo.bounds import in_us
from finder.geo.names import US_STATES, city_key

NOT_FOUND = "We couldn't find that place."
MILITARY_MESSAGE = (
    "Military APO/FPO/DPO ZIP codes have no location in the United States. Enter the ZIP code "
    "or city where you are looking for treatment."
)
OUTSIDE_US_MESSAGE = (
    "That point is outside the United States. This directory lists treatment in the 50 states, "
    "the District of Columbia and Puerto Rico."
)
#: How far the nearest ZIP may be for "near Austin, TX" to describe a point.
NEAR_MILES = 25.0
#: "Did you mean" cities listed for an ambiguous name ("Washington" has 26 states).
MAX_ALTERNATIVES = 5


class GazetteerMiss(LookupError):
    """Nothing in the gazetteer matches; ``message`` is for the visitor."""

    def __init__(self, message: str = NOT_FOUND, suggestions: list[str] | tuple[str, ...] = ()):
        super().__init__(message)
        self.message = message
        self.suggestions = list(suggestions)


class _OfflineAdapter(BaseSyncAdapter):
    """The gazetteer makes no HTTP requests; geopy still wants an adapter."""

    def __init__(self, *, proxies=None, ssl_context=None):
        super().__init__(proxies=proxies, ssl_context=ssl_context)

    def get_json(self, url, *, timeout, headers):
        raise GeocoderServiceError("the gazetteer geocoder is offline")

    def get_text(self, url, *, timeout, headers):
        raise GeocoderServiceError("the gazetteer geocoder is offline")


def format_coordinates(latitude: float, longitude: float) -> str:
    return f"{latitude:.6g}, {longitude:.6g}"


class GazetteerGeocoder(Geocoder):
    """``session`` is a Session, a ``scoped_session`` or a callable returning a Session;
    by default ``finder.extensions.db.session`` (needs an app context).
    """

    def __init__(self, session: Session | scoped_session | Callable[[], Session] | None = None):
        super().__init__(adapter_factory=_OfflineAdapter)
        self._session_source = session

    @property
    def session(self) -> Session:
        source = self._session_source
        if source is None:
            from finder.extensions import db

            source = db.session
        return source if isinstance(source, Session) else source()

    # -- geopy interface ---------------------------------------------------------------------

    def geocode(self, query, *, exactly_one=True, timeout=DEFAULT_SENTINEL):
        """A Location (or a list, best first) for ``query``; None when nothing matches."""
        try:
            locations = self.resolve(query)
        except GazetteerMiss:
            return None
        return locations[0] if exactly_one else locations

    def reverse(self, query, *, exactly_one=True, timeout=DEFAULT_SENTINEL):
        """The nearest gazetteer ZIP within 25 miles of a point, as a ZIP Location, or None."""
        point = Point(query)
        found = self.nearest(point.latitude, point.longitude)
        if not found:
            return None
        location = self._zip_location(found[0], street=None)
        location.raw["distance_miles"] = found[1]
        return location if exactly_one else [location]

    # -- finder's richer interface -----------------------------------------------------------

    def nearest(self, latitude: float, longitude: float, within_miles: float = NEAR_MILES):
        """``(ZipPoint, miles)`` for the nearest usable ZIP centre within reach, else None."""
        return gazetteer.nearest_zip(self.session, latitude, longitude, within_miles)

    def resolve(self, query: str | ParsedQuery) -> list[Location]:
        """Locations for ``query``, best first; raises GazetteerMiss with suggestions."""
        parsed = query if isinstance(query, ParsedQuery) else parse_query(query)
        if parsed.coordinates:
            return [self._coordinates_location(*parsed.coordinates)]
        if parsed.state in gazetteer.MILITARY_STATES:
            raise GazetteerMiss(MILITARY_MESSAGE)
        if parsed.zip:
            point = gazetteer.find_zip(self.session, parsed.zip)
            if point and point.usable:
                return [self._zip_location(point, _street_for(parsed, point.city))]
            if point and point.zip_type == gazetteer.MILITARY:
                raise GazetteerMiss(MILITARY_MESSAGE)
            if not parsed.readings:
                nearby = gazetteer.nearby_zips(self.session, parsed.zip)
                raise GazetteerMiss(NOT_FOUND, [p.label for p in nearby])
            # An address with a ZIP we do not know: its city and state still place it.
        if parsed.readings:
            return self._city_locations(parsed)
        raise GazetteerMiss(NOT_FOUND)

    # -- helpers -------------------------------------------------------------------------------

    def _coordinates_location(self, latitude: float, longitude: float) -> Location:
        if not in_us(latitude, longitude):
            raise GazetteerMiss(OUTSIDE_US_MESSAGE)
        label = format_coordinates(latitude, longitude)
        near = self.nearest(latitude, longitude)
        state = near[0].state if near else None
        if near:
            label += f" (near {near[0].city}, {near[0].state})"
        return _location(label, latitude, longitude, "coordinates", False, state=state)

    def _zip_location(self, point: gazetteer.ZipPoint, street: str | None) -> Location:
        label = f"{street}, {point.label}" if street else point.label
        return _location(
            label, point.latitude, point.longitude, "zip", street is not None,
            state=point.state, zip=point.zip, city=point.city, street=street,
            zip_type=point.zip_type,
        )

    def _city_locations(self, parsed: ParsedQuery) -> list[Location]:
        keys = [key for key in dict.fromkeys(city_key(r.city) for r in parsed.readings) if key]
        if parsed.state and not parsed.state_only:
            found = gazetteer.find_city(self.session, parsed.state, keys)
            if not found:
                names = [reading.city for reading in parsed.readings]
                similar = gazetteer.similar_cities(self.session, names, parsed.state)
                raise GazetteerMiss(NOT_FOUND, similar)
            key, city = found
            return [self._city_location(city, _reading_for(parsed, key).street)]

        found_anywhere = gazetteer.states_with_city(self.session, keys)
        if not found_anywhere:
            if parsed.state_only and parsed.state:
                return self._state_only(parsed.state)
            names = [reading.city for reading in parsed.readings]
            raise GazetteerMiss(NOT_FOUND, gazetteer.similar_cities(self.session, names))
        key, cities = found_anywhere
        street = _reading_for(parsed, key).street
        alternatives = [city.label for city in cities[1 : 1 + MAX_ALTERNATIVES]]
        best = self._city_location(cities[0], street, alternatives)
        return [best, *(self._city_location(city, street) for city in cities[1:])]

    def _state_only(self, state: str) -> list[Location]:
        """A state is too large to search from, unless it has one city ("DC" is Washington)."""
        largest = gazetteer.largest_cities(self.session, state, limit=3)
        if len(largest) == 1:
            found = gazetteer.find_city(self.session, state, [city_key(largest[0].split(",")[0])])
            if found:
                return [self._city_location(found[1], street=None)]
        state_name = US_STATES[state]
        raise GazetteerMiss(
            f"Which part of {state_name}? Enter a city, ZIP code or address there.", largest
        )

    def _city_location(
        self, city: gazetteer.City, street: str | None, alternatives=()
    ) -> Location:
        label = f"{street}, {city.label}" if street else city.label
        return _location(
            label, city.latitude, city.longitude, "city", street is not None,
            state=city.state, city=city.name, street=street, alternatives=list(alternatives),
        )


def _reading_for(parsed: ParsedQuery, key: str) -> Reading:
    return next(reading for reading in parsed.readings if city_key(reading.city) == key)


def _street_for(parsed: ParsedQuery, gazetteer_city: str) -> str | None:
    """The street part of an address whose ZIP was found: the reading that ends in the ZIP's
    city, else the reading with the longest street (the visitor's city spelling is dropped).
    A text that only starts with a street word ("St Pete FL 33701") has no street.
    """
    key = city_key(gazetteer_city)
    for reading in parsed.readings:
        if city_key(reading.city) == key:
            return reading.street
    if not parsed.readings or parsed.readings[0].street is None:
        return None
    streets = [reading.street for reading in parsed.readings if reading.street]
    return max(streets, key=len) if streets else None


def _location(
    label: str, latitude: float, longitude: float, precision: str, approximate: bool, **raw
) -> Location:
    raw = {
        "source": "gazetteer",
        "label": label,
        "latitude": latitude,
        "longitude": longitude,
        "precision": precision,
        "approximate": approximate,
        "state": None,
        "zip": None,
        **raw,
    }
    return Location(label, (latitude, longitude), raw)
