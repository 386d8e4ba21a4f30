"""FindTreatment.gov's ``exportsAsJson/v2`` parameters, as its developer guide defines them,
translated to a finder search."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from finder.api.errors import ApiError
from finder.api.params import Param, parse_all
from finder.directory.search import SearchQuery, UnknownServiceCode, groups_by_category
from finder.geo.distance import METERS_PER_MILE
from finder.geo.names import state_code

#: The guide's Appendix B: its own state IDs, which are not FIPS codes.
STATE_IDS: dict[int, str] = {
    1: "ME", 2: "MI", 3: "MA", 4: "MT", 5: "NY", 6: "NC", 7: "OH", 8: "PA", 9: "RI",
    10: "TN", 11: "TX", 12: "NV", 13: "NJ", 14: "UT", 15: "WA", 16: "WI", 18: "MD",
    19: "AL", 20: "AK", 21: "AZ", 22: "AR", 23: "CA", 24: "CO", 25: "CT", 26: "DE",
    27: "DC", 28: "FL", 29: "GA", 30: "HI", 31: "ID", 32: "IL", 33: "IN", 34: "IA",
    35: "KS", 36: "KY", 37: "LA", 38: "MN", 39: "MS", 40: "MO", 41: "NE", 42: "NH",
    43: "NM", 44: "ND", 45: "OK", 46: "OR", 47: "SC", 48: "SD", 49: "VT", 50: "VA",
    51: "WV", 52: "WY",
}
SORTS = {0: "distance", 1: "-distance", 2: "name1", 3: "name2"}
S_TYPES = ("sa", "mh", "both")
MAX_PAGE_SIZE = 2000
#: Every row stays reachable with pageSize=1; larger offsets only cost the database.
MAX_PAGE = 1_000_000
LIMIT_STATE, LIMIT_COUNTY, LIMIT_DISTANCE = 0, 1, 2

LOCATOR_PARAMS = (
    Param("sAddr", "string",
          'Starting point: "lat,lng" (the guide\'s examples) or "lng,lat" (the guide\'s text), '
          "optionally in double or single quotes. The order is told apart by range: US "
          "longitudes are negative; when both orders fit, lat,lng is used.",
          required=True, max_length=100, example='"39.141375,-77.203552"'),
    Param("limitType", "integer",
          "0: state search (limitValue is a state ID of the guide's Appendix B); 1: county "
          "search (not supported: the county ID table is not published with the guide); "
          "2: distance search (limitValue in meters). Absent: no geographic limit.",
          minimum=0, maximum=2),
    Param("limitValue", "number", "State ID (limitType 0) or distance in meters (limitType 2).",
          minimum=0, exclusive_minimum=True, example=20000),
    Param("sCodes", "string",
          "Comma-separated service codes; facilities must offer every one.", max_length=500,
          example="BU,NU"),
    Param("sType", "string",
          "sa, mh or both, quotes optional, any case. finder lists substance-use facilities "
          "only: mh matches nothing.", max_length=8),
    Param("stateCode", "string", "Only facilities in this state; combines with limitType 2.",
          max_length=40, example="MD"),
    Param("sort", "integer", "0 nearest first, 1 farthest first, 2 by name1, 3 by name2.",
          default=0, minimum=0, maximum=3),
    Param("filterFName", "string", "Only facilities whose name contains this text."),
    Param("filterFAddress", "string",
          "Only facilities whose address line 1 contains this text."),
    Param("filterFPhone", "string",
          "Only facilities whose phone number contains these digits (punctuation ignored)."),
    Param("page", "integer", "Page of results, from 1.", default=1, minimum=1, maximum=MAX_PAGE),
    Param("pageSize", "integer", "Rows per page.", default=30, minimum=1,
          maximum=MAX_PAGE_SIZE),
    Param("cut", "string", "Accepted for compatibility (NIAAA) and ignored.", max_length=16),
)


@dataclass(frozen=True)
class LocatorSearch:
    #: None when the request can match no finder facility (sType=mh).
    query: SearchQuery | None
    page: int
    page_size: int


def locator_search(session, args: Mapping) -> LocatorSearch:
    """The search a locator request asks for; ``ApiError`` naming the first bad parameter."""
    values = parse_all(LOCATOR_PARAMS, args)
    latitude, longitude = parse_saddr(values["sAddr"])
    radius_miles, limit_state = _limit(values["limitType"], values["limitValue"])
    state = _state_code(values["stateCode"])
    groups = _code_groups(session, values["sCodes"])
    s_type = _s_type(values["sType"])
    phone = values["filterFPhone"]
    phone_digits = re.sub(r"\D", "", phone or "")
    page, page_size = values["page"], values["pageSize"]
    matches_nothing = (
        s_type == "mh"
        or (limit_state and state and limit_state != state)
        or (phone and not phone_digits)
    )
    if matches_nothing:
        return LocatorSearch(query=None, page=page, page_size=page_size)
    query = SearchQuery(
        latitude=latitude,
        longitude=longitude,
        radius_miles=radius_miles,
        service_groups=groups,
        state=limit_state or state,
        sort=SORTS[values["sort"]],
        name_contains=values["filterFName"] or None,
        street_contains=values["filterFAddress"] or None,
        phone_contains=phone_digits or None,
        page=page,
        per_page=page_size,
    )
    return LocatorSearch(query=query, page=page, page_size=page_size)


def parse_saddr(text: str) -> tuple[float, float]:
    """``(latitude, longitude)`` from ``"lat,lng"`` or ``'lng,lat'``, quotes optional."""
    parts = text.strip().strip("\"'").split(",")
    try:
        first, second = (float(part) for part in parts)
    except ValueError:
        first = second = math.nan
    lat_first = abs(first) <= 90 and abs(second) <= 180
    lng_first = abs(second) <= 90 and abs(first) <= 180
    if lat_first and lng_first:
        # Both orders fit: a negative first and positive second number is a US "lng,lat";
        # anything else follows the guide's examples.
        lat_first = not (first < 0 < second)
    if lat_first:
        return first, second
    if lng_first:
        return second, first
    raise ApiError(
        'sAddr must be two coordinates separated by a comma, such as "39.141375,-77.203552".',
        parameter="sAddr",
    )


def _limit(limit_type: int | None, limit_value: float | None) -> tuple[float | None, str | None]:
    """``(radius in miles, state)`` of the geographic limit."""
    if limit_type is None:
        return None, None
    if limit_type == LIMIT_COUNTY:
        raise ApiError(
            "County search (limitType=1) is not supported: the county ID table is not "
            "published with the API guide. Use limitType=2 with a distance in meters, "
            "optionally with stateCode.",
            parameter="limitType",
        )
    if limit_value is None:
        raise ApiError(f"limitValue is required with limitType={limit_type}.",
                       parameter="limitValue")
    if limit_type == LIMIT_DISTANCE:
        return limit_value / METERS_PER_MILE, None
    state = STATE_IDS.get(int(limit_value)) if float(limit_value).is_integer() else None
    if state is None:
        raise ApiError("limitValue is not a state ID of the guide's Appendix B.",
                       parameter="limitValue")
    return None, state


def _state_code(text: str | None) -> str | None:
    if not text:
        return None
    code = state_code(text)
    if code is None:
        raise ApiError(f"Unknown stateCode: {text}.", parameter="stateCode")
    return code


def _code_groups(session, text: str | None) -> tuple[frozenset[str], ...]:
    """Each code its own group: the locator wants every listed service."""
    codes = list(dict.fromkeys(code.strip().upper() for code in (text or "").split(",")))
    codes = [code for code in codes if code]
    try:
        groups_by_category(session, codes)  # only to name unknown codes
    except UnknownServiceCode as exc:
        raise ApiError(f"Unknown service code: {', '.join(exc.codes)}.", parameter="sCodes",
                       codes=list(exc.codes)) from None
    return tuple(frozenset({code}) for code in codes)


def _s_type(text: str | None) -> str | None:
    value = (text or "").strip().strip("\"'").strip().lower()
    if value and value not in S_TYPES:
        raise ApiError("sType must be sa, mh or both.", parameter="sType")
    return value or None
