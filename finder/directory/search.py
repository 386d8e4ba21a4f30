"""Facility search near a point: filters, exact haversine ranking and pages, same on both engines.

No search looks at every facility in Python. The spatial index (``finder.directory.spatial``)
narrows the candidates, SQL filters and ranks them by the exact distance, and Python only loads the
facilities of the page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import selectinload

from finder.directory.models import Facility, FacilityStatus, Service, ServiceCategory
from finder.directory.spatial import Spatial, Sql, prepare

SORTS = ("distance", "-distance", "name1", "name2")
#: How many facilities ``nearest_beyond`` lists when nothing is within the radius.
NEAREST_BEYOND = 5
#: A service group linked to fewer facilities than this drives the search by itself.
FEW_LINKS = 2000
#: Box radii (miles) tried in turn when no count says how dense the area is (SQLite).
WIDENING_MILES = (5.0, 15.0, 50.0, 150.0, 500.0)
#: Chord (index) and haversine order may disagree by rounding; this is far beyond it (miles).
ORDER_TOLERANCE = 1e-6


@dataclass(frozen=True)
class SearchQuery:
    latitude: float
    longitude: float
    radius_miles: float | None = 25
    service_groups: tuple[frozenset[str], ...] = ()
    state: str | None = None
    sort: str = "distance"
    name_contains: str | None = None
    street_contains: str | None = None
    phone_contains: str | None = None
    include_closed: bool = False
    page: int = 1
    per_page: int = 10


@dataclass(frozen=True)
class SearchHit:
    facility: Facility
    distance_miles: float


@dataclass
class SearchResult:
    query: SearchQuery
    total: int
    hits: list[SearchHit]
    nearest_beyond: list[SearchHit]

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.query.per_page)


class UnknownServiceCode(ValueError):
    def __init__(self, codes: Iterable[str]) -> None:
        self.codes = list(codes)
        super().__init__(f"Unknown service code: {', '.join(self.codes)}")


def groups_by_category(session, codes: Iterable[str]) -> tuple[frozenset[str], ...]:
    """Codes of one taxonomy category OR-ed, categories AND-ed (in the categories' order)."""
    wanted = list(dict.fromkeys(code.strip().upper() for code in codes if code.strip()))
    if not wanted:
        return ()
    rows = session.execute(
        select(Service.code, Service.category_code, ServiceCategory.position)
        .join(ServiceCategory, Service.category)
        .where(Service.code.in_(wanted))
    ).all()
    found = {code: (position, category) for code, category, position in rows}
    unknown = [code for code in wanted if code not in found]
    if unknown:
        raise UnknownServiceCode(unknown)
    groups: dict[tuple[int, str], set[str]] = {}
    for code, key in found.items():
        groups.setdefault(key, set()).add(code)
    return tuple(frozenset(groups[key]) for key in sorted(groups))


def search(session, query: SearchQuery) -> SearchResult:
    _check(query)
    connection = session.connection()
    prepare(connection)
    finder = _Finder(connection, query)
    total = finder.count()
    offset = (query.page - 1) * query.per_page
    rows = finder.page(total, offset, query.per_page) if total > offset else []
    beyond = []
    if total == 0 and query.radius_miles is not None:
        beyond = finder.nearest(NEAREST_BEYOND)
    facilities = _load(session, [row[0] for row in rows + beyond])
    return SearchResult(
        query=query,
        total=total,
        hits=[SearchHit(facilities[id_], distance) for id_, distance in rows],
        nearest_beyond=[SearchHit(facilities[id_], distance) for id_, distance in beyond],
    )


def _check(query: SearchQuery) -> None:
    if query.sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, not {query.sort!r}")
    if query.page < 1 or query.per_page < 1:
        raise ValueError("page and per_page start at 1")
    if not (-90 <= query.latitude <= 90 and -180 <= query.longitude <= 180):
        raise ValueError(f"({query.latitude}, {query.longitude}) is not a point on Earth")
    radius = query.radius_miles
    if radius is not None and not (radius >= 0 and math.isfinite(radius)):
        raise ValueError(f"radius_miles must be a distance or None, not {radius!r}")


def _load(session, ids: list[int]) -> dict[int, Facility]:
    if not ids:
        return {}
    found = session.scalars(
        select(Facility).where(Facility.id.in_(ids)).options(selectinload(Facility.services))
    )
    return {facility.id: facility for facility in found}


class _Finder:
    """The SQL of one search; each method is one or a few statements."""

    def __init__(self, connection, query: SearchQuery) -> None:
        self.connection = connection
        self.query = query
        self.geo = Spatial(connection.dialect.name, query.latitude, query.longitude)
        self.groups = [sorted(code.upper() for code in group) for group in query.service_groups]
        self.driver = self._driving_group()

    def _driving_group(self) -> int | None:
        """The group with the fewest facility links when it has few enough to drive the search."""
        if not self.groups or any(not group for group in self.groups):
            return None
        selects, params = [], {"cap": FEW_LINKS}
        for g, group in enumerate(self.groups):
            names = _names(params, f"c{g}", group)
            selects.append(
                f"(SELECT count(*) FROM (SELECT 1 FROM facility_service"
                f" WHERE service_code IN ({names}) LIMIT :cap) AS s{g})"
            )
        counts = self.connection.execute(text("SELECT " + ", ".join(selects)), params).one()
        fewest = min(range(len(counts)), key=counts.__getitem__)
        return fewest if counts[fewest] < FEW_LINKS else None

    def _from(self, box_miles: float | None) -> tuple[str, Sql]:
        """FROM clause and filters; a box unless a service group or no radius drives the search."""
        where = Sql(params=dict(self.geo.params))
        source = "facility AS f"
        if box_miles is not None and self.driver is None:
            source = self.geo.box(box_miles, where)
        q = self.query
        if not q.include_closed:
            where.add("f.status <> :closed", closed=FacilityStatus.CLOSED.value)
        if q.state:
            where.add("f.state = :state", state=q.state.upper())
        for g, group in enumerate(self.groups):
            if not group:
                where.add("1 = 0")
                continue
            names = _names(where.params, f"g{g}", group)
            if g == self.driver:
                where.add(
                    "f.id IN (SELECT fs.facility_id FROM facility_service AS fs"
                    f" WHERE fs.service_code IN ({names}))"
                )
            else:
                where.add(
                    "EXISTS (SELECT 1 FROM facility_service AS fs WHERE fs.facility_id = f.id"
                    f" AND fs.service_code IN ({names}))"
                )
        if q.name_contains:
            needle = q.name_contains.lower()
            where.add(
                f"({self.geo.contains('f.name1', 'name')} OR {self.geo.contains('f.name2', 'name')})",
                name=needle,
            )
        if q.street_contains:
            where.add(self.geo.contains("f.street1", "street"), street=q.street_contains.lower())
        if q.phone_contains:
            where.add(self.geo.contains("f.phone", "phone"), phone=q.phone_contains.lower())
        return source, where

    def count(self) -> int:
        radius = self.query.radius_miles
        source, where = self._from(radius)
        if radius is not None:
            where.add(f"{self.geo.distance()} <= :radius", radius=radius)
        sql = f"SELECT count(*) FROM {source} WHERE {where.where()}"
        return self.connection.execute(text(sql), where.params).scalar_one()

    def _ranked(
        self, box_miles, within, order: str, limit: int, offset: int = 0
    ) -> list[tuple[int, float]]:
        source, where = self._from(box_miles)
        if within is not None:
            where.add(f"{self.geo.distance()} <= :within", within=within)
        sql = (
            f"SELECT f.id, {self.geo.distance()} AS d FROM {source} WHERE {where.where()}"
            f" ORDER BY {order} LIMIT :limit OFFSET :offset"
        )
        params = {**where.params, "limit": limit, "offset": offset}
        return [(row[0], row[1]) for row in self.connection.execute(text(sql), params)]

    def page(self, total: int, offset: int, limit: int) -> list[tuple[int, float]]:
        radius = self.query.radius_miles
        sort = self.query.sort
        if sort != "distance":
            return self._ranked(radius, radius, self._order(sort), limit, offset)
        if self.driver is not None:
            return self._ranked(None, radius, "d, f.id", limit, offset)
        if self.geo.knn_order():
            return self._knn(radius, offset, limit)
        return self._widening(radius, offset, limit, total)

    def nearest(self, limit: int) -> list[tuple[int, float]]:
        """The nearest matches at any distance (nothing matched within the radius)."""
        if self.driver is not None:
            return self._ranked(None, None, "d, f.id", limit)
        if self.geo.knn_order():
            return self._knn(None, 0, limit)
        return self._widening(None, 0, limit, None, start=self.query.radius_miles * 3)

    def _order(self, sort: str) -> str:
        if sort == "-distance":
            return "d DESC, f.id"
        column = f"f.{sort}"
        name = self.geo.collate(self.geo.lower(column))
        return f"{column} IS NULL, {name}, d, f.id"

    def _widening(self, radius, offset, limit, total, start: float = 0.0):
        """Boxes growing until one holds the page: a box holds every facility within its radius."""
        needed = offset + limit
        steps = [w for w in WIDENING_MILES if w > start]
        if total and radius:
            # Density from the count: a circle holding about twice the page, then the full radius.
            steps = [radius * min(1.0, 1.5 * math.sqrt(needed / total))]
        elif start:
            steps.insert(0, start)
        for miles in steps:
            if radius is not None and miles >= radius:
                break
            rows = self._ranked(miles, miles, "d, f.id", limit, offset)
            if len(rows) == limit:
                return rows
        return self._ranked(radius, radius, "d, f.id", limit, offset)

    def _knn(self, radius, offset, limit) -> list[tuple[int, float]]:
        """PostgreSQL: the GiST index yields facilities nearest first; exact order is re-checked."""
        needed = offset + limit
        fetch = needed + 10
        while True:
            source, where = self._from(radius)
            sql = (
                f"SELECT f.id, {self.geo.distance()} AS d FROM {source} WHERE {where.where()}"
                f" ORDER BY {self.geo.knn_order()} LIMIT :fetch"
            )
            rows = self.connection.execute(text(sql), {**where.params, "fetch": fetch}).all()
            ranked = sorted((row[1], row[0]) for row in rows)
            inside = [(id_, d) for d, id_ in ranked if radius is None or d <= radius]
            if len(rows) < fetch:
                return inside[offset:needed]
            # Facilities not fetched are at least this far (up to rounding of the chord order).
            floor = ranked[-1][0] - ORDER_TOLERANCE
            settled = sum(1 for _id, d in inside if d < floor)
            if settled >= needed or (radius is not None and floor > radius):
                return inside[offset:needed]
            fetch *= 4


def _names(params: dict, prefix: str, values: Iterable[str]) -> str:
    """Binds each value under its own name and returns the placeholders."""
    names = []
    for i, value in enumerate(values):
        params[f"{prefix}_{i}"] = value
        names.append(f":{prefix}_{i}")
    return ", ".join(names)
