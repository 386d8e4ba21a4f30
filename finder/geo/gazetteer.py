"""Indexed queries on the ZIP gazetteer: one ZIP, a city's centroid, the nearest ZIP, look-alikes.

Every query here uses an index of ``zip_code`` (the primary key, (state, city_key), city_key or
(latitude, longitude)); none scans the table.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from finder.geo.distance import bounding_box, haversine_miles
from finder.geo.models import ZipCode
from finder.geo.names import city_key

STANDARD = "STANDARD"
#: APO/FPO/DPO ZIPs route mail to ships and bases abroad; the gazetteer puts them at (0, 0).
MILITARY = "MILITARY"
MILITARY_STATES = frozenset({"AA", "AE", "AP"})

_COLUMNS = (
    ZipCode.zip,
    ZipCode.zip_type,
    ZipCode.city,
    ZipCode.state,
    ZipCode.latitude,
    ZipCode.longitude,
)


@dataclass(frozen=True)
class ZipPoint:
    zip: str
    zip_type: str
    city: str
    state: str
    latitude: float
    longitude: float

    @property
    def usable(self) -> bool:
        """False for military ZIPs and any row without a real location."""
        return (
            self.zip_type != MILITARY
            and self.state not in MILITARY_STATES
            and math.isfinite(self.latitude)
            and math.isfinite(self.longitude)
            and not (self.latitude == 0 and self.longitude == 0)
        )

    @property
    def label(self) -> str:
        return f"{self.city}, {self.state} {self.zip}"


@dataclass(frozen=True)
class City:
    name: str
    state: str
    latitude: float
    longitude: float
    zip_count: int

    @property
    def label(self) -> str:
        return f"{self.name}, {self.state}"


def _point(row) -> ZipPoint:
    return ZipPoint(row.zip, row.zip_type, row.city, row.state, row.latitude, row.longitude)


def find_zip(session: Session, zip5: str) -> ZipPoint | None:
    """The ZIP's row (usable or not), by primary key."""
    row = session.execute(select(*_COLUMNS).where(ZipCode.zip == zip5)).first()
    return _point(row) if row else None


def city_from_points(points: Iterable[ZipPoint]) -> City | None:
    """A city's centroid: the mean of its STANDARD ZIPs, or of all its usable ZIPs if none is."""
    usable = [point for point in points if point.usable]
    if not usable:
        return None
    standard = [point for point in usable if point.zip_type == STANDARD] or usable
    # The spelling most of the city's ZIPs use ("Saint Louis" over a stray "St Louis").
    name = Counter(point.city for point in standard).most_common(1)[0][0]
    return City(
        name=name,
        state=usable[0].state,
        latitude=sum(point.latitude for point in standard) / len(standard),
        longitude=sum(point.longitude for point in standard) / len(standard),
        zip_count=len(usable),
    )


def find_city(session: Session, state: str, keys: Sequence[str]) -> tuple[str, City] | None:
    """The first of ``keys`` that names a city in ``state``, with that city (one query)."""
    if not keys:
        return None
    rows = session.execute(
        select(ZipCode.city_key, *_COLUMNS).where(
            ZipCode.state == state, ZipCode.city_key.in_(list(keys))
        )
    ).all()
    for key in keys:
        city = city_from_points(_point(row) for row in rows if row.city_key == key)
        if city:
            return key, city
    return None


def states_with_city(session: Session, keys: Sequence[str]) -> tuple[str, list[City]] | None:
    """For the first of ``keys`` that names a city anywhere: that city in every state having it,
    the state with the most ZIPs first (one query on the city_key index).
    """
    if not keys:
        return None
    rows = session.execute(
        select(ZipCode.city_key, *_COLUMNS).where(
            ZipCode.city_key.in_(list(keys)), ZipCode.zip_type != MILITARY
        )
    ).all()
    for key in keys:
        by_state: dict[str, list[ZipPoint]] = {}
        for row in rows:
            if row.city_key == key:
                by_state.setdefault(row.state, []).append(_point(row))
        cities = [city for city in map(city_from_points, by_state.values()) if city]
        if cities:
            cities.sort(key=lambda city: (-city.zip_count, city.state))
            return key, cities
    return None


def nearest_zip(
    session: Session, latitude: float, longitude: float, within_miles: float = 25.0
) -> tuple[ZipPoint, float] | None:
    """The usable ZIP whose centre is nearest the point, if one is within ``within_miles``.

    A small box first (cities are dense), then the full radius; each is an indexed range query.
    """
    for miles in sorted({min(5.0, within_miles), within_miles}):
        min_lat, max_lat, min_lon, max_lon = bounding_box(latitude, longitude, miles)
        rows = session.execute(
            select(*_COLUMNS).where(
                ZipCode.latitude.between(min_lat, max_lat),
                ZipCode.longitude.between(min_lon, max_lon),
                ZipCode.zip_type != MILITARY,
            )
        ).all()
        best: tuple[ZipPoint, float] | None = None
        for row in rows:
            point = _point(row)
            if not point.usable:
                continue
            distance = haversine_miles(latitude, longitude, point.latitude, point.longitude)
            if distance <= miles and (best is None or distance < best[1]):
                best = (point, distance)
        if best:
            return best
    return None


def nearby_zips(session: Session, zip5: str, limit: int = 3) -> list[ZipPoint]:
    """Usable ZIPs sharing ``zip5``'s 3-digit prefix, numerically closest first."""
    if not (len(zip5) == 5 and zip5.isdigit()):
        return []
    prefix = zip5[:3]
    rows = session.execute(
        select(*_COLUMNS).where(ZipCode.zip.between(prefix + "00", prefix + "99"))
    ).all()
    points = [point for point in map(_point, rows) if point.usable and point.zip != zip5]
    points.sort(key=lambda point: (abs(int(point.zip) - int(zip5)), point.zip))
    return points[:limit]


def similar_cities(
    session: Session, names: Sequence[str], state: str | None = None, limit: int = 5
) -> list[str]:
    """"City, ST" labels spelled like one of ``names``: in ``state``, or (without a state) among
    cities with the same first letter, so the list difflib compares stays small.
    """
    keys = [key for key in dict.fromkeys(city_key(name) for name in names) if key]
    if not keys:
        return []
    query = select(ZipCode.city_key, ZipCode.city, ZipCode.state).where(
        ZipCode.zip_type != MILITARY
    )
    if state:
        query = query.where(ZipCode.state == state)
    else:
        # city_key is lower-case letters, digits and spaces: [a, b) holds the keys starting "a".
        initials = sorted({key[0] for key in keys})
        query = query.where(
            or_(
                *(
                    (ZipCode.city_key >= initial) & (ZipCode.city_key < chr(ord(initial) + 1))
                    for initial in initials
                )
            )
        )
    labels_by_key: dict[str, list[str]] = {}
    for key, name, city_state in session.execute(query.distinct()).all():
        label = f"{name}, {city_state}"
        labels = labels_by_key.setdefault(key, [])
        if label not in labels and city_state not in MILITARY_STATES:
            labels.append(label)
    scored: dict[str, float] = {}
    for key in keys:
        for match in difflib.get_close_matches(key, list(labels_by_key), n=limit, cutoff=0.75):
            ratio = difflib.SequenceMatcher(None, key, match).ratio()
            scored[match] = max(scored.get(match, 0.0), ratio)
    ranked = sorted(scored, key=lambda match: (-scored[match], match))
    return [label for match in ranked for label in sorted(labels_by_key[match])][:limit]


def largest_cities(session: Session, state: str, limit: int = 3) -> list[str]:
    """The state's cities with the most ZIPs, as "City, ST" labels."""
    rows = session.execute(
        select(func.min(ZipCode.city), func.count().label("zips"))
        .where(ZipCode.state == state, ZipCode.zip_type != MILITARY)
        .group_by(ZipCode.city_key)
        .order_by(func.count().desc(), func.min(ZipCode.city))
        .limit(limit)
    ).all()
    return [f"{name}, {state}" for name, _count in rows]
