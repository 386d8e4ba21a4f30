"""The spatial index of searches (``facility_cell``) and the engine-specific bits of their SQL.

``facility_cell`` (migration 0002, kept by triggers) holds one row per facility with service code
``''`` and one per (facility, service) link, keyed by (service_code, band, longitude, facility_id)
with band = floor(latitude * 10). The facilities of one code in a box are then a few contiguous key
ranges, one per 0.1-degree latitude band, carrying the exact coordinates and the closed flag: a
count within a radius reads no other table. The index only narrows the candidates; every decision
and every displayed distance is the haversine of ``finder.geo.distance``, evaluated in SQL with the
operations of ``haversine_miles`` in the same order, so SQLite, PostgreSQL and Python agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from finder.geo.distance import EARTH_RADIUS_MILES, bounding_box

CELL_TABLE = "facility_cell"
#: The service code of the row every facility has, whatever its services.
ANY_SERVICE = ""
#: Bands per degree of latitude (a band is about 6.9 miles high).
BANDS_PER_DEGREE = 10
#: What ``math.radians`` multiplies by.
RADIANS_PER_DEGREE = math.pi / 180


def band(latitude: float) -> int:
    """The band of a latitude, as the triggers compute it: floor(latitude * 10)."""
    return math.floor(latitude * BANDS_PER_DEGREE)


def include_name(name: str | None, type_: str, parent_names) -> bool:
    """Autogenerate filter: the spatial index lives in migration 0002, not in the models."""
    return not (type_ == "table" and name == CELL_TABLE)


def include_object(obj, name: str | None, type_: str, reflected: bool, compare_to) -> bool:
    return include_name(name, type_, {})


@dataclass
class Sql:
    """A WHERE clause being built: conditions AND-ed, values always bound, never interpolated."""

    conditions: list[str] = field(default_factory=list)
    params: dict[str, object] = field(default_factory=dict)

    def add(self, condition: str, **params: object) -> None:
        self.conditions.append(condition)
        self.params.update(params)

    def bind(self, prefix: str, values) -> str:
        """Binds each value under its own name; returns the placeholders, comma-separated."""
        names = []
        for i, value in enumerate(values):
            self.params[f"{prefix}_{i}"] = value
            names.append(f":{prefix}_{i}")
        return ", ".join(names)

    def where(self) -> str:
        return " AND ".join(self.conditions) if self.conditions else "1 = 1"


class Spatial:
    """SQL fragments for one search point on one engine (``sqlite`` or ``postgresql``)."""

    def __init__(self, dialect: str, latitude: float, longitude: float) -> None:
        if dialect not in ("sqlite", "postgresql"):
            raise NotImplementedError(f"search supports SQLite and PostgreSQL, not {dialect}")
        self.is_sqlite = dialect == "sqlite"
        self.latitude = latitude
        self.longitude = longitude
        p1 = math.radians(latitude)
        self.params: dict[str, object] = {
            "q_lon": longitude,
            "q_p1": p1,
            "q_cos_p1": math.cos(p1),
            "q_rad": RADIANS_PER_DEGREE,
            "q_two_r": 2 * EARTH_RADIUS_MILES,
        }

    def distance(self, alias: str = "c") -> str:
        """``haversine_miles(point, row)`` as SQL, operation for operation."""
        lat, lon = f"{alias}.latitude", f"{alias}.longitude"
        a = (
            f"power(sin(({lat} * :q_rad - :q_p1) / 2), 2)"
            f" + :q_cos_p1 * cos({lat} * :q_rad) * power(sin((({lon} - :q_lon) * :q_rad) / 2), 2)"
        )
        smaller = "min" if self.is_sqlite else "least"
        return f"(:q_two_r * asin({smaller}(1.0, sqrt({a}))))"

    def box(self, miles: float, where: Sql, alias: str = "c") -> None:
        """Limits ``where`` to the cell rows of a box holding everything within ``miles``."""
        south, north, west, east = bounding_box(self.latitude, self.longitude, miles)
        if west <= -180 or east >= 180:
            # The box would cross the 180th meridian (Aleutians): take every longitude instead.
            west, east = -180.0, 180.0
        bands = where.bind("band", range(band(south), band(north) + 1))
        where.add(
            f"{alias}.band IN ({bands}) AND {alias}.longitude BETWEEN :box_w AND :box_e",
            box_w=west,
            box_e=east,
        )

    def join_facility(self, on: str) -> str:
        """Joins ``facility AS f``; on SQLite as the inner loop (the cell rows drive)."""
        join = "CROSS JOIN" if self.is_sqlite else "JOIN"
        return f" {join} facility AS f ON f.id = {on}"

    def joined(self, column: str) -> str:
        """The aggregate joining a group's values with spaces."""
        function = "group_concat" if self.is_sqlite else "string_agg"
        return f"{function}({column}, ' ')"

    def lower(self, column: str) -> str:
        # SQLite's lower() folds ASCII only; finder_lower is Python's str.lower (see prepare).
        return f"finder_lower({column})" if self.is_sqlite else f"lower({column})"

    def contains(self, column: str, param: str) -> str:
        """Case-insensitive substring test of ``column`` against the lower-cased ``:param``."""
        function = "instr" if self.is_sqlite else "strpos"
        return f"{function}({self.lower(column)}, :{param}) > 0"

    def collate(self, expression: str) -> str:
        """Code-point order on both engines, whatever the database's default collation."""
        return expression if self.is_sqlite else f'{expression} COLLATE "C"'


def prepare(connection) -> None:
    """Registers ``finder_lower`` on a SQLite connection (once per DBAPI connection)."""
    if connection.dialect.name != "sqlite":
        return
    pooled = connection.connection
    if not pooled.info.get("finder_lower"):
        pooled.driver_connection.create_function("finder_lower", 1, _lower, deterministic=True)
        pooled.info["finder_lower"] = True


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()
