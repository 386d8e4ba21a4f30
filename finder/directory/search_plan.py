"""How one search runs: which index rows are its candidates, and its count, page and nearest.

The candidates are the ``facility_cell`` rows of one service group (the "driver", the group with
the fewest rows near the point) or, without service groups, every facility's ``''`` row. The other
groups and the filters on facility columns are conditions on them. A page is looked for in a box
sized from the count, widening to the whole radius when it is not all there.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sqlalchemy import Double, String, column, select, text
from sqlalchemy.orm.attributes import set_committed_value

from finder.directory.models import Facility, Service
from finder.directory.spatial import ANY_SERVICE, CELL_TABLE, Spatial, Sql

if TYPE_CHECKING:
    from finder.directory.search import SearchQuery

#: Box radii (miles) tried in turn when no count says how dense the area is.
WIDENING_MILES = (5.0, 15.0, 50.0, 150.0, 500.0)
#: A page is first looked for within PAGE_MARGIN times the radius a uniform density would need.
PAGE_MARGIN = 3.0
#: Choosing which service group drives a search reads at most this many index entries per group.
DRIVER_SAMPLE = 20_000
#: The facility columns in the models' order, as the page query selects them.
FACILITY_COLUMNS = ", ".join(f"f.{c.name}" for c in Facility.__table__.columns)

Row = tuple[Facility, float]


def attach_services(session, facilities: list[tuple[Facility, str | None]]) -> None:
    """Sets each facility's ``services`` from its codes (space-separated, read with the page), as
    eager loading would: Service objects come from one query, the links need none. A page of 25
    facilities has some 500 links, and building them as ORM rows took longer than the search."""
    waiting = [
        (facility, (codes or "").split())
        for facility, codes in facilities
        if "services" not in facility.__dict__
    ]
    wanted = {code for _f, codes in waiting for code in codes}
    services = {}
    if wanted:
        found = session.scalars(select(Service).where(Service.code.in_(wanted)))
        services = {service.code: service for service in found}
    for facility, codes in waiting:
        # The relationship's order (Service.position), made total by the code.
        offered = sorted((services[code] for code in codes), key=lambda s: (s.position, s.code))
        set_committed_value(facility, "services", offered)


class SearchPlan:
    """The statements of one search (``SearchQuery`` checked by ``search``)."""

    def __init__(self, session, query: SearchQuery) -> None:
        self.session = session
        self.connection = session.connection()
        self.query = query
        self.geo = Spatial(self.connection.dialect.name, query.latitude, query.longitude)
        self.groups = [tuple(sorted({code.upper() for code in g})) for g in query.service_groups]
        self.on_facility = bool(
            query.state or query.name_contains or query.street_contains or query.phone_contains
        )
        self.driver = self._driver()

    def _driver(self) -> int | None:
        """The group with the fewest cell rows near the point (None: every facility's row)."""
        if len(self.groups) < 2:
            return 0 if self.groups else None
        where = Sql(params={"sample": DRIVER_SAMPLE})
        if self.query.radius_miles is not None:
            self.geo.box(self.query.radius_miles, where)
        counts = []
        for g, group in enumerate(self.groups):
            codes = where.bind(f"d{g}", group)
            counts.append(
                f"(SELECT count(*) FROM (SELECT 1 FROM {CELL_TABLE} AS c WHERE"
                f" c.service_code IN ({codes}) AND {where.where()} LIMIT :sample) AS s{g})"
            )
        found = self.connection.execute(text("SELECT " + ", ".join(counts)), where.params).one()
        return min(range(len(found)), key=found.__getitem__)

    def _candidates(self, box_miles: float | None, within: float | None) -> tuple[str, Sql]:
        """``SELECT [DISTINCT] c.facility_id AS id, <distance> AS d`` of the matches (SQL, params).

        Limited to a box of ``box_miles`` and to ``within`` miles when they are not None.
        """
        q = self.query
        where = Sql(params=dict(self.geo.params))
        codes = self.groups[self.driver] if self.driver is not None else (ANY_SERVICE,)
        where.add(f"c.service_code IN ({where.bind('code', codes)})")
        if box_miles is not None:
            self.geo.box(box_miles, where)
        if not q.include_closed:
            where.add("NOT c.closed")
        if within is not None:
            where.add(f"{self.geo.distance()} <= :within", within=within)
        for g, group in enumerate(self.groups):
            if g != self.driver:
                where.add(
                    "EXISTS (SELECT 1 FROM facility_service AS fs"
                    f" WHERE fs.facility_id = c.facility_id"
                    f" AND fs.service_code IN ({where.bind(f'g{g}', group)}))"
                )
        source = f"{CELL_TABLE} AS c"
        if self.on_facility:
            source += self.geo.join_facility("c.facility_id")
            self._facility_filters(where)
        # A facility offering two codes of the driving group has two rows.
        distinct = "DISTINCT " if len(codes) > 1 else ""
        sql = (
            f"SELECT {distinct}c.facility_id AS id, {self.geo.distance()} AS d"
            f" FROM {source} WHERE {where.where()}"
        )
        return sql, where

    def _facility_filters(self, where: Sql) -> None:
        q = self.query
        if q.state:
            where.add("f.state = :state", state=q.state.upper())
        if q.name_contains:
            name1 = self.geo.contains("f.name1", "name")
            name2 = self.geo.contains("f.name2", "name")
            where.add(f"({name1} OR {name2})", name=q.name_contains.lower())
        if q.street_contains:
            where.add(self.geo.contains("f.street1", "street"), street=q.street_contains.lower())
        if q.phone_contains:
            where.add(self.geo.contains("f.phone", "phone"), phone=q.phone_contains.lower())

    def count(self) -> int:
        q = self.query
        if q.radius_miles is None and q.state:
            return self._count_in_state()
        sql, where = self._candidates(q.radius_miles, q.radius_miles)
        return self.connection.execute(
            text(f"SELECT count(*) FROM ({sql}) AS m"), where.params
        ).scalar_one()

    def _count_in_state(self) -> int:
        """No radius but a state: the state's facilities, found by the index on facility.state."""
        q = self.query
        where = Sql()
        self._facility_filters(where)
        if not q.include_closed:
            where.add("f.status <> 'closed'")
        for g, group in enumerate(self.groups):
            where.add(
                "EXISTS (SELECT 1 FROM facility_service AS fs WHERE fs.facility_id = f.id"
                f" AND fs.service_code IN ({where.bind(f'g{g}', group)}))"
            )
        sql = f"SELECT count(*) FROM facility AS f WHERE {where.where()}"
        return self.connection.execute(text(sql), where.params).scalar_one()

    def _ranked(
        self, box_miles, within, limit: int, offset: int = 0, sort: str = "distance"
    ) -> list[Row]:
        """One page of matches in ``sort`` order: facilities (with services) and distances."""
        sql, where = self._candidates(box_miles, within)
        source, keys = f"({sql}) AS m", ""
        order, again = "m.d, m.id", "p.d, p.id"
        if sort == "-distance":
            order, again = "m.d DESC, m.id", "p.d DESC, p.id"
        elif sort in ("name1", "name2"):
            source += self.geo.join_facility("m.id")
            name = self.geo.collate(self.geo.lower(f"f.{sort}"))
            keys = f", f.{sort} IS NULL AS k_null, {name} AS k_name"
            order, again = "k_null, k_name, m.d, m.id", "p.k_null, p.k_name, p.d, p.id"
        # The page is cut before facility rows are read: only its own rows are joined.
        codes = self.geo.joined("fs.service_code")
        sql = (
            f"SELECT {FACILITY_COLUMNS}, p.d, (SELECT {codes} FROM facility_service AS fs"
            f" WHERE fs.facility_id = f.id) AS codes"
            f" FROM (SELECT m.id, m.d{keys} FROM {source}"
            f" ORDER BY {order} LIMIT :limit OFFSET :offset) AS p"
            f"{self.geo.join_facility('p.id')} ORDER BY {again}"
        )
        distance, joined = column("d", Double), column("codes", String)
        statement = select(Facility, distance, joined).from_statement(
            text(sql).columns(*Facility.__table__.columns, distance, joined)
        )
        params = {**where.params, "limit": limit, "offset": offset}
        rows = self.session.execute(statement, params).all()
        attach_services(self.session, [(facility, codes) for facility, _d, codes in rows])
        return [(facility, d) for facility, d, _codes in rows]

    def page(self, total: int, offset: int, limit: int) -> list[Row]:
        radius = self.query.radius_miles
        if self.query.sort != "distance":
            return self._ranked(radius, radius, limit, offset, self.query.sort)
        return self._widening(radius, offset, limit, total)

    def nearest(self, limit: int) -> list[Row]:
        """The nearest matches at any distance (nothing matched within the radius)."""
        return self._widening(None, 0, limit, None, start=self.query.radius_miles * 3)

    def _widening(self, radius, offset, limit, total, start: float = 0.0) -> list[Row]:
        """Boxes growing until one holds the page: a box holds every facility within its radius,
        so when the first ``offset + limit`` matches in it are within that radius, they are the
        first of all."""
        needed = offset + limit
        steps = [miles for miles in WIDENING_MILES if miles > start]
        if total and radius:
            # The count tells the density: a circle expected to hold the page nine times over
            # (density varies; reading a few hundred rows costs little, a second query more).
            steps = [radius * min(1.0, PAGE_MARGIN * math.sqrt(needed / total))]
        elif start:
            steps.insert(0, start)
        for miles in steps:
            if radius is not None and miles >= radius:
                break
            rows = self._ranked(miles, miles, limit, offset)
            if len(rows) == limit:
                return rows
        return self._ranked(radius, radius, limit, offset)
