"""The one distance finder uses for ranking and display: haversine on a sphere."""

import math

EARTH_RADIUS_MILES = 3958.7613
METERS_PER_MILE = 1609.344


def haversine_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, miles: float) -> tuple[float, float, float, float]:
    """A (min_lat, max_lat, min_lon, max_lon) box holding every point within ``miles``.

    Slightly generous, never too small; longitudes are not wrapped (no US place needs it).
    """
    dlat = math.degrees(miles / EARTH_RADIUS_MILES) * 1.0001 + 1e-6
    min_lat, max_lat = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    polar = max(abs(min_lat), abs(max_lat))
    if polar >= 89.9:
        return min_lat, max_lat, -180.0, 180.0
    dlon = dlat / math.cos(math.radians(polar))
    return min_lat, max_lat, max(-180.0, lon - dlon), min(180.0, lon + dlon)
