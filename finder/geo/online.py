"""An optional online geocoder (any geopy service), rate-limited and restricted to the US.

Built once per app from config; ``lookup`` returns a checked result or None, never raises for
the service's failures, so the gazetteer can answer instead.
"""

from __future__ import annotations

import inspect
import logging
import math
import re
from dataclasses import dataclass
from typing import Any

from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import get_geocoder_for_service
from geopy.geocoders.base import Geocoder
from geopy.location import Location

from finder.geo.bounds import in_us
from finder.geo.names import state_code

log = logging.getLogger(__name__)

#: Constructor parameters geopy geocoders use for their API key, in the order tried.
_API_KEY_PARAMETERS = ("api_key", "apikey", "key", "access_token")
_COUNTRY_SUFFIX = re.compile(
    r",\s*(?:united states(?: of america)?|usa|us)\s*$", re.IGNORECASE
)
_ZIP = re.compile(r"\b(\d{5})(?:-\d{4})?\b")


@dataclass(frozen=True)
class OnlineResult:
    label: str
    latitude: float
    longitude: float
    state: str | None
    zip: str | None


@dataclass
class OnlineGeocoder:
    name: str
    geocoder: Geocoder
    #: ``geocoder.geocode`` wrapped in geopy's RateLimiter.
    call: Any
    #: Extra keyword arguments for ``geocode``: the US restriction, address details.
    options: dict[str, Any]

    def lookup(self, query: str) -> OnlineResult | None:
        """The service's answer if it has one inside the US; None on any failure."""
        try:
            location = self.call(query, exactly_one=True, **self.options)
        except (GeopyError, OSError) as error:
            log.warning("online geocoder %s failed (%s); using the gazetteer", self.name, error)
            return None
        if isinstance(location, list):
            location = location[0] if location else None
        if location is None:
            return None
        result = result_from_location(location)
        if result is None:
            log.info("online geocoder %s answered outside the US for %r", self.name, query)
        return result


def build_online_geocoder(config) -> OnlineGeocoder | None:
    """The online geocoder config asks for, or None for "offline" (or a broken configuration,
    which is logged: the gazetteer still answers every search).
    """
    name = (config.get("GEOCODER") or "offline").strip().lower()
    if name in {"offline", "gazetteer", "none", ""}:
        return None
    try:
        geocoder_class = get_geocoder_for_service(name)
        kwargs: dict[str, Any] = {
            "user_agent": config.get("GEOCODER_USER_AGENT"),
            "timeout": config.get("GEOCODER_TIMEOUT", 3.0),
        }
        api_key = config.get("GEOCODER_API_KEY")
        if api_key:
            accepted = inspect.signature(geocoder_class.__init__).parameters
            parameter = next((p for p in _API_KEY_PARAMETERS if p in accepted), None)
            if parameter is None:
                raise TypeError(f"{geocoder_class.__name__} takes no API key")
            kwargs[parameter] = api_key
        geocoder = geocoder_class(**kwargs)
    except (GeopyError, TypeError, ValueError) as error:
        log.error("GEOCODER=%r cannot be used (%s); only the gazetteer will answer", name, error)
        return None
    call = RateLimiter(
        geocoder.geocode,
        min_delay_seconds=config.get("GEOCODER_MIN_DELAY", 1.0),
        max_retries=0,
        swallow_exceptions=False,
    )
    return OnlineGeocoder(name, geocoder, call, _geocode_options(geocoder))


def _geocode_options(geocoder: Geocoder) -> dict[str, Any]:
    accepted = inspect.signature(geocoder.geocode).parameters
    options: dict[str, Any] = {}
    if "country_codes" in accepted:
        options["country_codes"] = "us"
    elif "country" in accepted:
        options["country"] = "us"
    if "addressdetails" in accepted:
        options["addressdetails"] = True
    return options


def result_from_location(location: Location) -> OnlineResult | None:
    """An OnlineResult for a Location inside the US, else None."""
    latitude, longitude = location.latitude, location.longitude
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return None
    if not in_us(latitude, longitude):
        return None
    label = _COUNTRY_SUFFIX.sub("", location.address or "").strip(" ,")
    state, zip5 = _state_and_zip(location)
    return OnlineResult(
        label=label or f"{latitude:.6g}, {longitude:.6g}",
        latitude=latitude,
        longitude=longitude,
        state=state,
        zip=zip5,
    )


def _state_and_zip(location: Location) -> tuple[str | None, str | None]:
    """State and ZIP from the service's structured details (Nominatim's ``address``), else from
    the tail of its address text ("..., Charlottesville, VA 22902, USA").
    """
    raw = location.raw if isinstance(location.raw, dict) else {}
    details = raw.get("address") if isinstance(raw.get("address"), dict) else {}
    state = None
    iso = str(details.get("ISO3166-2-lvl4", ""))
    if iso.upper().startswith("US-"):
        state = state_code(iso[3:])
    state = state or (state_code(str(details["state"])) if details.get("state") else None)
    postcode = _ZIP.match(str(details.get("postcode", "")))
    zip5 = postcode.group(1) if postcode else None

    parts = [part.strip() for part in (location.address or "").split(",")]
    for part in reversed(parts[-4:]):
        if zip5 is None and (match := _ZIP.search(part)):
            zip5 = match.group(1)
        if state is None:
            words = _ZIP.sub("", part).split()
            state = state_code(" ".join(words)) if words else None
    return state, zip5
