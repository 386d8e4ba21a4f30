"""The open API's facility search: query parameters in, a resolved place and a SearchQuery out.

The location, point, radius, service and paging rules are the search page's own
(``finder.directory.params``), with the API's wider radius and ``per_page``; the declarations
below document them (and parse the API's extra ``state`` and ``include_closed``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import current_app

from finder.api.errors import ApiError
from finder.api.params import Param
from finder.directory.params import (
    MAX_LOCATION_LENGTH,
    MAX_SERVICE_CODES,
    parse_point,
    parse_search_args,
)
from finder.directory.search import SearchQuery, UnknownServiceCode, groups_by_category
from finder.geo.names import state_code
from finder.geo.place import Place, PlaceNotFound, locate, place_from_point

MAX_RADIUS_MILES = 500
DEFAULT_RADIUS_MILES = 25
DEFAULT_PER_PAGE = 10
MAX_PAGE = 10_000


def _max_per_page() -> int:
    return current_app.config["API_MAX_PER_PAGE"]


POINT_PARAMS = (
    Param("lat", "number", "Latitude of the search centre (with lon).", minimum=-90,
          maximum=90, example=30.2672),
    Param("lon", "number", "Longitude of the search centre (with lat).", minimum=-180,
          maximum=180, example=-97.7431),
)
STATE = Param("state", "string", "Only facilities in this state (code or name).",
              max_length=40, example="TX")
INCLUDE_CLOSED = Param("include_closed", "boolean", "Also list facilities that have closed.",
                       default=False)

FACILITY_SEARCH_PARAMS = (
    Param("location", "string",
          "Where to search from: a US ZIP code, a city and state, or an address. Required "
          "unless lat and lon are given; it wins over them.",
          max_length=MAX_LOCATION_LENGTH, example="Austin, TX",
          cleans_control_characters=True),
    *POINT_PARAMS,
    Param("radius", "number", "Search radius in miles.", default=DEFAULT_RADIUS_MILES,
          minimum=0, exclusive_minimum=True, maximum=MAX_RADIUS_MILES),
    Param("service", "string",
          "A service code (see /api/v1/services); repeat it for several. Codes of one "
          "category are alternatives (any of them); codes of different categories must all "
          f"be offered. At most {MAX_SERVICE_CODES} codes.", repeated=True,
          example=["BU", "MD"]),
    STATE,
    INCLUDE_CLOSED,
    Param("page", "integer", "Page of results, from 1.", default=1, minimum=1, maximum=MAX_PAGE),
    Param("per_page", "integer", "Facilities per page.", default=DEFAULT_PER_PAGE, minimum=1,
          maximum=_max_per_page),
)


@dataclass(frozen=True)
class FacilitySearch:
    place: Place
    query: SearchQuery


def facility_search(session, args: Mapping) -> FacilitySearch:
    """The place and search a request asks for; ``ApiError`` naming the first bad parameter."""
    params = parse_search_args(
        args,
        max_radius=MAX_RADIUS_MILES,
        default_radius=DEFAULT_RADIUS_MILES,
        per_page=DEFAULT_PER_PAGE,
        max_per_page=_max_per_page(),
        max_page=MAX_PAGE,
    )
    if isinstance(params, dict):
        parameter, message = next(iter(params.items()))
        if parameter == "lat":
            parameter = _point_culprit(args)
        raise ApiError(message, parameter=parameter)
    state = _state(STATE.parse(args))
    include_closed = INCLUDE_CLOSED.parse(args)
    groups = service_groups(session, params.service_codes)
    if params.has_point:
        place = _place_from_point(params.latitude, params.longitude)
    else:
        place = _locate(params.location)
    query = SearchQuery(
        latitude=place.latitude,
        longitude=place.longitude,
        radius_miles=params.radius_miles,
        service_groups=groups,
        state=state,
        include_closed=include_closed,
        page=params.page,
        per_page=params.per_page,
    )
    return FacilitySearch(place=place, query=query)


def optional_point(args: Mapping) -> tuple[float, float] | None:
    """``(lat, lon)`` when either is given (both must be), None when neither is."""
    lat, lon = args.get("lat", "").strip(), args.get("lon", "").strip()
    if not lat and not lon:
        return None
    point = parse_point(lat, lon)
    if isinstance(point, str):
        raise ApiError(point, parameter=_point_culprit(args))
    return point


def service_groups(session, codes: tuple[str, ...]) -> tuple[frozenset[str], ...]:
    """Visitor filters: one category's codes OR-ed, categories AND-ed; names unknown codes."""
    try:
        return groups_by_category(session, codes)
    except UnknownServiceCode as exc:
        unknown = ", ".join(exc.codes)
        raise ApiError(
            f"Unknown service code: {unknown}. GET /api/v1/services lists the codes.",
            parameter="service",
            codes=list(exc.codes),
        ) from None


def _point_culprit(args: Mapping) -> str:
    """Which of lat and lon is missing or wrong (the page's parser names ``lat`` for both)."""
    latitude_alone = parse_point(args.get("lat", "").strip(), "0")
    return "lat" if isinstance(latitude_alone, str) else "lon"


def _place_from_point(lat: float, lon: float) -> Place:
    try:
        return place_from_point(lat, lon)
    except ValueError as exc:
        raise ApiError(str(exc), parameter="lat") from None


def _locate(location: str) -> Place:
    try:
        return locate(location)
    except PlaceNotFound as exc:
        raise ApiError(
            str(exc), parameter="location", suggestions=list(exc.suggestions)
        ) from None


def _state(text: str | None) -> str | None:
    if not text:
        return None
    code = state_code(text)
    if code is None:
        raise ApiError(f"Unknown state: {text}.", parameter="state")
    return code
