"""Facility search near a point: filters, exact haversine ranking and pages, same on both engines.

No search looks at every facility in Python: the spatial index (``finder.directory.spatial``)
narrows the candidates, SQL filters, counts and ranks them by the exact distance, and Python loads
only the facilities of the page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from finder.directory.models import Facility, Service, ServiceCategory
from finder.directory.search_plan import SearchPlan
from finder.directory.spatial import prepare

SORTS = ("distance", "-distance", "name1", "name2")
#: How many facilities ``nearest_beyond`` lists when nothing is within the radius.
NEAREST_BEYOND = 5


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
    """The matches within the radius (their count and the requested page, facilities with their
    services loaded), or the nearest beyond it when there are none."""
    _check(query)
    if any(not group for group in query.service_groups):
        return SearchResult(query=query, total=0, hits=[], nearest_beyond=[])
    if session.autoflush:
        session.flush()  # the statements below are plain SQL, which does not autoflush
    prepare(session.connection())
    plan = SearchPlan(session, query)
    total = plan.count()
    offset = (query.page - 1) * query.per_page
    rows = plan.page(total, offset, query.per_page) if total > offset else []
    beyond = []
    if total == 0 and query.radius_miles is not None:
        beyond = plan.nearest(NEAREST_BEYOND)
    return SearchResult(
        query=query,
        total=total,
        hits=[SearchHit(*row) for row in rows],
        nearest_beyond=[SearchHit(*row) for row in beyond],
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
