"""Rough bounding boxes of the 50 states, DC and Puerto Rico: is a point in the directory's area?"""

import math

#: (min_lat, max_lat, min_lon, max_lon) per state, a little larger than the state's real extent.
#: Alaska's Aleutian Islands cross the 180th meridian, so Alaska has a second, eastern box.
STATE_BOXES: dict[str, tuple[tuple[float, float, float, float], ...]] = {
    "AL": ((30.14, 35.01, -88.48, -84.89),),
    "AK": ((51.20, 71.50, -179.99, -129.98), (51.20, 53.10, 172.40, 180.00)),
    "AZ": ((31.33, 37.00, -114.82, -109.04),),
    "AR": ((33.00, 36.50, -94.62, -89.64),),
    "CA": ((32.53, 42.01, -124.48, -114.13),),
    "CO": ((36.99, 41.00, -109.06, -102.04),),
    "CT": ((40.98, 42.05, -73.73, -71.79),),
    "DE": ((38.45, 39.84, -75.79, -75.05),),
    "DC": ((38.79, 39.00, -77.12, -76.91),),
    "FL": ((24.40, 31.00, -87.63, -79.97),),
    "GA": ((30.36, 35.00, -85.61, -80.84),),
    "HI": ((18.86, 28.52, -178.34, -154.81),),
    "ID": ((41.99, 49.00, -117.24, -111.04),),
    "IL": ((36.97, 42.51, -91.51, -87.02),),
    "IN": ((37.77, 41.76, -88.10, -84.78),),
    "IA": ((40.37, 43.50, -96.64, -90.14),),
    "KS": ((36.99, 40.00, -102.05, -94.59),),
    "KY": ((36.50, 39.15, -89.57, -81.96),),
    "LA": ((28.93, 33.02, -94.04, -88.82),),
    "ME": ((42.98, 47.46, -71.08, -66.95),),
    "MD": ((37.91, 39.72, -79.49, -75.05),),
    "MA": ((41.24, 42.89, -73.51, -69.93),),
    "MI": ((41.70, 48.31, -90.42, -82.41),),
    "MN": ((43.50, 49.38, -97.24, -89.49),),
    "MS": ((30.17, 35.00, -91.66, -88.10),),
    "MO": ((35.99, 40.61, -95.77, -89.10),),
    "MT": ((44.36, 49.00, -116.05, -104.04),),
    "NE": ((40.00, 43.00, -104.05, -95.31),),
    "NV": ((35.00, 42.00, -120.01, -114.04),),
    "NH": ((42.70, 45.31, -72.56, -70.61),),
    "NJ": ((38.93, 41.36, -75.56, -73.89),),
    "NM": ((31.33, 37.00, -109.05, -103.00),),
    "NY": ((40.50, 45.02, -79.76, -71.86),),
    "NC": ((33.84, 36.59, -84.32, -75.46),),
    "ND": ((45.94, 49.00, -104.05, -96.55),),
    "OH": ((38.40, 41.98, -84.82, -80.52),),
    "OK": ((33.62, 37.00, -103.00, -94.43),),
    "OR": ((41.99, 46.29, -124.57, -116.46),),
    "PA": ((39.72, 42.27, -80.52, -74.69),),
    "RI": ((41.15, 42.02, -71.86, -71.12),),
    "SC": ((32.03, 35.22, -83.35, -78.54),),
    "SD": ((42.48, 45.95, -104.06, -96.44),),
    "TN": ((34.98, 36.68, -90.31, -81.65),),
    "TX": ((25.84, 36.50, -106.65, -93.51),),
    "UT": ((37.00, 42.00, -114.05, -109.04),),
    "VT": ((42.73, 45.02, -73.44, -71.46),),
    "VA": ((36.54, 39.47, -83.68, -75.24),),
    "WA": ((45.54, 49.00, -124.85, -116.92),),
    "WV": ((37.20, 40.64, -82.64, -77.72),),
    "WI": ((42.49, 47.31, -92.89, -86.25),),
    "WY": ((40.99, 45.01, -111.06, -104.05),),
    "PR": ((17.88, 18.52, -67.95, -65.22),),
}

#: Degrees added on every side: coastal geocoder results can sit just offshore.
MARGIN_DEGREES = 0.1


def states_containing(latitude: float, longitude: float) -> list[str]:
    """The states whose rough box holds the point (boxes overlap, so often several)."""
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return []
    m = MARGIN_DEGREES
    return [
        state
        for state, boxes in STATE_BOXES.items()
        if any(
            lat0 - m <= latitude <= lat1 + m and lon0 - m <= longitude <= lon1 + m
            for lat0, lat1, lon0, lon1 in boxes
        )
    ]


def in_us(latitude: float, longitude: float) -> bool:
    """True when the point is roughly inside one of the 50 states, DC or Puerto Rico."""
    return bool(states_containing(latitude, longitude))
