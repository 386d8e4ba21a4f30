"""The engine-specific SQL of a search: exact haversine, spatial index boxes and KNN ordering.

SQLite keeps an R*Tree (``facility_rtree``) in step with ``facility`` through triggers; PostgreSQL
has a GiST index on ``ll_to_earth(latitude, longitude)`` (cube + earthdistance, no PostGIS). Both
only narrow the candidates: every decision and every displayed distance is the haversine of
``finder.geo.distance``, evaluated in SQL with the same operations in the same order as
``haversine_miles``, so the engines and Python agree to the last bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from finder.geo.distance import EARTH_RADIUS_MILES, bounding_box

#: What ``math.radians`` multiplies by.
RADIANS_PER_DEGREE = math.pi / 180
#: Boxes are made a little larger than the radius: they only pre-filter.
BOX_MARGIN = 1.0001

RTREE_TABLE = "facility_rtree"
POSTGRES_INDEX = "ix_facility_earth"


def include_name(name: str | None, type_: str, parent_names) -> bool:
    """Autogenerate filter: the spatial index is not in the models, only in migration 0002."""
    if type_ == "table" and name and (name == RTREE_TABLE or name.startswith(RTREE_TABLE + "_")):
        return False
    return not (type_ == "index" and name == POSTGRES_INDEX)


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

    def where(self) -> str:
        return " AND ".join(self.conditions) if self.conditions else "1 = 1"


class Spatial:
    """SQL fragments for one search point on one engine (``sqlite`` or ``postgresql``)."""

    def __init__(self, dialect: str, latitude: float, longitude: float) -> None:
        if dialect not in ("sqlite", "postgresql"):
            raise NotImplementedError(f"search supports SQLite and PostgreSQL, not {dialect}")
        self.dialect = dialect
        self.latitude = latitude
        self.longitude = longitude
        p1 = math.radians(latitude)
        self.params: dict[str, object] = {
            "q_lat": latitude,
            "q_lon": longitude,
            "q_p1": p1,
            "q_cos_p1": math.cos(p1),
            "q_rad": RADIANS_PER_DEGREE,
            "q_two_r": 2 * EARTH_RADIUS_MILES,
        }

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def distance(self, alias: str = "f") -> str:
        """``haversine_miles(q_lat, q_lon, latitude, longitude)`` as SQL, operation for operation."""
        lat, lon = f"{alias}.latitude", f"{alias}.longitude"
        a = (
            f"power(sin(({lat} * :q_rad - :q_p1) / 2), 2)"
            f" + :q_cos_p1 * cos({lat} * :q_rad) * power(sin((({lon} - :q_lon) * :q_rad) / 2), 2)"
        )
        smaller = "min" if self.is_sqlite else "least"
        return f"(:q_two_r * asin({smaller}(1.0, sqrt({a}))))"

    def box(self, miles: float, where: Sql) -> str:
        """The FROM clause of facilities ``f`` near the point, adding the box test to ``where``.

        The box holds every facility within ``miles`` and some farther ones.
        """
        if self.is_sqlite:
            south, north, west, east = bounding_box(self.latitude, self.longitude, miles)
            # The R*Tree's 32-bit bounds are rounded outwards, so an overlap test never misses.
            where.add(
                "r.max_lat >= :box_s AND r.min_lat <= :box_n"
                " AND r.max_lon >= :box_w AND r.min_lon <= :box_e",
                box_s=south, box_n=north, box_w=west, box_e=east,
            )
            # CROSS JOIN keeps the R*Tree as the outer loop.
            return f"{RTREE_TABLE} AS r CROSS JOIN facility AS f ON f.id = r.id"
        # earth() is earthdistance's own radius; an angle times it is a distance on its sphere.
        where.add(
            "earth_box(ll_to_earth(:q_lat, :q_lon), :box_angle * earth())"
            " @> ll_to_earth(f.latitude, f.longitude)",
            box_angle=miles / EARTH_RADIUS_MILES * BOX_MARGIN + 1e-9,
        )
        return "facility AS f"

    def knn_order(self) -> str | None:
        """An ORDER BY the GiST index walks nearest first (PostgreSQL), else None."""
        if self.is_sqlite:
            return None
        return "ll_to_earth(f.latitude, f.longitude) <-> ll_to_earth(:q_lat, :q_lon)"

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
        pooled.driver_connection.create_function(
            "finder_lower", 1, _lower, deterministic=True
        )
        pooled.info["finder_lower"] = True


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()
