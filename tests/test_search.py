"""search() against a pure-Python brute force, the spatial index's triggers, the taxonomy groups."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, insert, select, text, update

from finder.directory.models import Facility, FacilityStatus, Service, ServiceCategory
from finder.directory.models import facility_service as links_table
from finder.directory.search import (
    NEAREST_BEYOND,
    SearchQuery,
    UnknownServiceCode,
    groups_by_category,
    search,
)
from finder.directory.spatial import band
from finder.extensions import db
from finder.geo.distance import haversine_miles

#: Category -> codes of the small taxonomy the random tests use.
TAXONOMY = {
    "TC": ["SA", "DT", "HH"],
    "OM": ["BU", "MM", "NX"],
    "PAY": ["MD", "MC", "SF", "PI"],
    "LANG": ["SP", "FR"],
}
#: Places where facilities cluster, including the far corners of the directory's area.
ANCHORS = {
    "New York": (40.7128, -74.0060),
    "Los Angeles": (34.0522, -118.2437),
    "Chicago": (41.8781, -87.6298),
    "Denver": (39.7392, -104.9903),
    "Anchorage": (61.2181, -149.9003),
    "Utqiagvik AK": (71.2906, -156.7886),
    "Adak AK": (51.8800, -176.6581),
    "Hilo HI": (19.7241, -155.0868),
    "Honolulu": (21.3069, -157.8583),
    "San Juan PR": (18.4655, -66.1057),
    "Ponce PR": (18.0111, -66.6141),
    "Eastport ME": (44.9062, -66.9899),
    "Key West FL": (24.5551, -81.7800),
    "Wichita KS": (37.6872, -97.3301),
}
STATES = ["NY", "CA", "IL", "CO", "AK", "HI", "PR", "ME", "FL", "KS"]
WORDS = ["Recovery", "Hope", "Centro", "Clínica", "New Day", "ÉLAN", "Harbor", "Sober", "Path"]
STREETS = ["Main Street", "Calle Luna", "Harbor Road", "Route 9", "Avenida Ponce"]
RADII = [5, 10, 25, 50, 100]


def add_taxonomy(session) -> None:
    for position, (category, codes) in enumerate(TAXONOMY.items()):
        session.add(ServiceCategory(code=category, name=category, plain_name=category,
                                    position=position))
        for i, code in enumerate(codes):
            session.add(Service(code=code, category_code=category, label=code, plain_label=code,
                                position=i))
    session.flush()


def random_facilities(rnd: random.Random, count: int) -> list[dict]:
    now = datetime.now(UTC)
    anchors = list(ANCHORS.values())
    rows = []
    for i in range(1, count + 1):
        lat0, lon0 = rnd.choice(anchors)
        spread = rnd.choice([0.02, 0.2, 0.6, 2.0])
        if rows and rnd.random() < 0.05:
            # Same coordinates as an earlier facility: equal distances, ranked by id.
            lat, lon = rows[-1]["latitude"], rows[-1]["longitude"]
        else:
            lat = max(-89.0, min(89.0, lat0 + rnd.gauss(0, spread)))
            lon = max(-179.9, min(179.9, lon0 + rnd.gauss(0, spread)))
        name = f"{rnd.choice(WORDS)} {rnd.choice(WORDS).lower()} {i}"
        rows.append({
            "id": i,
            "slug": f"facility-{i}",
            "name1": name if rnd.random() < 0.7 else name.upper(),
            "name2": rnd.choice([None, None, f"DBA {rnd.choice(WORDS)}", "Programa Niños"]),
            "street1": rnd.choice([None, *STREETS]),
            "city": "Somewhere",
            "state": rnd.choice(STATES),
            "latitude": lat,
            "longitude": lon,
            "phone": rnd.choice([None, f"+1{rnd.randrange(2000000000, 9999999999)}"]),
            "status": FacilityStatus.CLOSED if rnd.random() < 0.1 else FacilityStatus.ACTIVE,
            "data_source": "test",
            "created_at": now,
            "updated_at": now,
        })
    return rows


def random_links(rnd: random.Random, facility_ids) -> list[dict]:
    codes = [code for group in TAXONOMY.values() for code in group]
    shares = {code: rnd.choice([0.05, 0.2, 0.5, 0.8]) for code in codes}
    return [
        {"facility_id": fid, "service_code": code}
        for fid in facility_ids
        for code in codes
        if rnd.random() < shares[code]
    ]


def populate(session, rnd: random.Random, count: int) -> None:
    add_taxonomy(session)
    facilities = random_facilities(rnd, count)
    session.execute(insert(Facility.__table__), facilities)
    session.execute(insert(links_table), random_links(rnd, [f["id"] for f in facilities]))
    session.commit()


# The reference: every facility in Python, the documented rules, nothing clever.

def snapshot(session) -> tuple[list[tuple], dict[int, set[str]]]:
    facilities = session.execute(
        select(Facility.id, Facility.latitude, Facility.longitude, Facility.status,
               Facility.state, Facility.name1, Facility.name2, Facility.street1, Facility.phone)
    ).all()
    services: dict[int, set[str]] = {row.id: set() for row in facilities}
    for facility_id, code in session.execute(select(links_table)):
        services[facility_id].add(code)
    return facilities, services


def brute_force(data, q: SearchQuery):
    """(total, [(id, miles)] of the page, [(id, miles)] nearest beyond)."""
    facilities, services = data

    def contains(value, needle):
        return value is not None and needle.lower() in value.lower()

    matches = []
    for f in facilities:
        if f.status == FacilityStatus.CLOSED and not q.include_closed:
            continue
        if q.state and f.state != q.state.upper():
            continue
        if not all(services[f.id] & group for group in q.service_groups):
            continue
        if q.name_contains and not (contains(f.name1, q.name_contains)
                                    or contains(f.name2, q.name_contains)):
            continue
        if q.street_contains and not contains(f.street1, q.street_contains):
            continue
        if q.phone_contains and not contains(f.phone, q.phone_contains):
            continue
        matches.append((haversine_miles(q.latitude, q.longitude, f.latitude, f.longitude), f))
    within = [m for m in matches if q.radius_miles is None or m[0] <= q.radius_miles]
    keys = {
        "distance": lambda m: (m[0], m[1].id),
        "-distance": lambda m: (-m[0], m[1].id),
        "name1": lambda m: (m[1].name1.lower(), m[0], m[1].id),
        "name2": lambda m: (m[1].name2 is None, (m[1].name2 or "").lower(), m[0], m[1].id),
    }
    within.sort(key=keys[q.sort])
    start = (q.page - 1) * q.per_page
    page = [(f.id, d) for d, f in within[start:start + q.per_page]]
    beyond = []
    if not within and q.radius_miles is not None:
        beyond = [(f.id, d) for d, f in sorted(matches, key=keys["distance"])[:NEAREST_BEYOND]]
    return len(within), page, beyond


def assert_same(session, data, q: SearchQuery):
    result = search(session, q)
    total, page, beyond = brute_force(data, q)
    assert result.total == total, q
    for hits, expected in ((result.hits, page), (result.nearest_beyond, beyond)):
        assert [h.facility.id for h in hits] == [fid for fid, _ in expected], q
        for hit, (_, miles) in zip(hits, expected, strict=True):
            assert abs(hit.distance_miles - miles) <= 1e-6, q
    assert result.pages == math.ceil(total / q.per_page)
    return result


def random_query(rnd: random.Random, facilities) -> SearchQuery:
    kind = rnd.random()
    if kind < 0.5:
        lat, lon = rnd.choice(list(ANCHORS.values()))
        lat, lon = lat + rnd.gauss(0, 0.3), lon + rnd.gauss(0, 0.3)
    elif kind < 0.8:
        f = rnd.choice(facilities)
        lat, lon = f.latitude, f.longitude
    else:
        lat, lon = rnd.uniform(18, 65), rnd.uniform(-160, -66)
    groups = []
    for category in rnd.sample(list(TAXONOMY), rnd.choice([0, 0, 1, 1, 2, 3])):
        codes = TAXONOMY[category]
        groups.append(frozenset(rnd.sample(codes, rnd.randint(1, len(codes)))))
    radius = rnd.choice([*RADII, *RADII, None])
    return SearchQuery(
        latitude=lat,
        longitude=lon,
        radius_miles=radius,
        service_groups=tuple(groups),
        state=rnd.choice(STATES) if radius is None or rnd.random() < 0.1 else None,
        sort=rnd.choice(["distance"] * 5 + ["-distance", "name1", "name2"]),
        name_contains=rnd.choice([None] * 8 + ["hope", "CLÍN", "niños", "élan"]),
        street_contains=rnd.choice([None] * 12 + ["main", "CALLE"]),
        phone_contains=rnd.choice([None] * 12 + ["2", "55"]),
        include_closed=rnd.random() < 0.2,
        page=rnd.choice([1, 1, 1, 2, 3, 7]),
        per_page=rnd.choice([5, 10, 25]),
    )


def test_matches_brute_force_on_random_data(app):
    rnd = random.Random(20260121)
    with app.app_context():
        populate(db.session, rnd, 3000)
        data = snapshot(db.session)
        results = []
        for _ in range(250):
            results.append(assert_same(db.session, data, random_query(rnd, data[0])))
            db.session.rollback()
    # The random queries cover full pages, later pages and empty radii.
    assert sum(len(r.hits) == r.query.per_page for r in results) > 50
    assert sum(r.query.page > 1 and len(r.hits) > 0 for r in results) > 20
    assert sum(len(r.nearest_beyond) > 0 for r in results) > 10


def test_far_corners_and_every_radius(app):
    rnd = random.Random(7)
    with app.app_context():
        populate(db.session, rnd, 2000)
        data = snapshot(db.session)
        group_sets = ((), (frozenset({"BU", "MM"}),), (frozenset({"NX"}), frozenset({"SP"})))
        for (lat, lon) in ANCHORS.values():
            for radius in RADII:
                for groups in group_sets:
                    q = SearchQuery(lat, lon, radius, groups, per_page=25)
                    assert_same(db.session, data, q)
                    assert_same(db.session, data, replace(q, page=2))


def test_nothing_within_the_radius_lists_the_nearest_beyond(app):
    with app.app_context():
        populate(db.session, random.Random(3), 500)
        data = snapshot(db.session)
        # Mid-Atlantic Ocean: nothing within 100 miles, the nearest honour the filters.
        q = SearchQuery(35.0, -45.0, 100, (frozenset({"MD"}),))
        assert_same(db.session, data, q)
        result = search(db.session, q)
        assert result.total == 0 and result.hits == [] and result.pages == 0
        assert len(result.nearest_beyond) == NEAREST_BEYOND
        assert all(hit.distance_miles > 100 for hit in result.nearest_beyond)
        assert all("MD" in {s.code for s in hit.facility.services} for hit in result.nearest_beyond)
        # No radius: nothing is "beyond".
        assert search(db.session, replace(q, radius_miles=None)).nearest_beyond == []


def test_equal_distances_rank_by_id_and_pages_do_not_overlap(app):
    with app.app_context():
        add_taxonomy(db.session)
        now = datetime.now(UTC)
        rows = [
            {"id": i, "slug": f"twin-{i}", "name1": "Twin", "city": "X", "state": "KS",
             "latitude": 37.5, "longitude": -97.5, "data_source": "test", "created_at": now,
             "updated_at": now, "status": FacilityStatus.ACTIVE}
            for i in (9, 3, 7, 1, 5)
        ]
        db.session.execute(insert(Facility.__table__), rows)
        db.session.commit()
        pages = [search(db.session, SearchQuery(37.6, -97.4, 25, per_page=2, page=p))
                 for p in (1, 2, 3)]
        assert [[h.facility.id for h in r.hits] for r in pages] == [[1, 3], [5, 7], [9]]
        assert {r.total for r in pages} == {5} and pages[0].pages == 3
        distance = haversine_miles(37.6, -97.4, 37.5, -97.5)
        assert all(h.distance_miles == distance for r in pages for h in r.hits)


def test_across_the_180th_meridian(app):
    """The Aleutians straddle it: Attu (172.9 E) and Adak (176.6 W) are in one state."""
    with app.app_context():
        add_taxonomy(db.session)
        now = datetime.now(UTC)
        places = {1: (52.0, 179.95), 2: (52.0, -179.95), 3: (52.0, 172.9), 4: (51.88, -176.66)}
        db.session.execute(insert(Facility.__table__), [
            {"id": i, "slug": f"aleutian-{i}", "name1": "Island", "city": "X", "state": "AK",
             "latitude": lat, "longitude": lon, "data_source": "test", "created_at": now,
             "updated_at": now, "status": FacilityStatus.ACTIVE}
            for i, (lat, lon) in places.items()
        ])
        db.session.commit()
        data = snapshot(db.session)
        for lat, lon in places.values():
            for radius in (5, 25, 100, 500):
                result = assert_same(db.session, data, SearchQuery(lat, lon, radius))
                assert result.total >= 1
        near = search(db.session, SearchQuery(52.0, -179.99, 5))
        assert [h.facility.id for h in near.hits] == [2, 1]


def test_page_facilities_come_with_their_services(app):
    with app.app_context():
        populate(db.session, random.Random(5), 300)
        result = search(db.session, SearchQuery(40.7128, -74.0060, 100, per_page=25))
        assert result.hits
        for hit in result.hits:
            assert "services" in hit.facility.__dict__  # loaded, no lazy load on the page
            codes = set(db.session.scalars(select(links_table.c.service_code).where(
                links_table.c.facility_id == hit.facility.id)))
            assert {s.code for s in hit.facility.services} == codes


def expected_cells(session) -> set[tuple]:
    facilities = session.execute(
        select(Facility.id, Facility.latitude, Facility.longitude, Facility.status)
    ).all()
    by_id = {f.id: f for f in facilities}
    cells = set()
    codes = [(f.id, "") for f in facilities]
    codes += [tuple(row) for row in session.execute(select(links_table))]
    for facility_id, code in codes:
        f = by_id[facility_id]
        cells.add((code, band(f.latitude), f.longitude, f.id, f.latitude,
                   f.status == FacilityStatus.CLOSED))
    return cells


def actual_cells(session) -> set[tuple]:
    rows = session.execute(text(
        "SELECT service_code, band, longitude, facility_id, latitude, closed FROM facility_cell"
    ))
    return {(*row[:5], bool(row[5])) for row in rows}


def test_triggers_keep_the_spatial_index_in_step(app):
    with app.app_context():
        session = db.session
        populate(session, random.Random(11), 200)
        assert actual_cells(session) == expected_cells(session)

        moved = session.get(Facility, 10)
        moved.latitude, moved.longitude = 47.6062, -122.3321
        moved.status = FacilityStatus.ACTIVE
        session.get(Facility, 11).status = FacilityStatus.CLOSED
        session.get(Facility, 12).status = FacilityStatus.ACTIVE
        session.get(Facility, 13).services = []
        session.get(Facility, 14).services = list(session.scalars(select(Service)))
        session.delete(session.get(Facility, 15))
        session.commit()
        assert actual_cells(session) == expected_cells(session)
        hits = search(session, SearchQuery(47.6, -122.3, 5)).hits
        assert [h.facility.id for h in hits] == [10]

        taken = select(links_table.c.service_code).where(links_table.c.facility_id == 17)
        session.execute(update(links_table).values(facility_id=17).where(
            links_table.c.facility_id == 16, links_table.c.service_code.not_in(taken)))
        session.execute(delete(links_table).where(links_table.c.service_code == "SA"))
        session.execute(update(Facility).where(Facility.id < 30).values(longitude=-100.0))
        session.execute(delete(Facility).where(Facility.id.between(40, 45)))
        session.commit()
        assert actual_cells(session) == expected_cells(session)

        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("TRUNCATE facility_service"))
            assert actual_cells(session) == expected_cells(session)
            session.execute(text("TRUNCATE facility CASCADE"))
            assert actual_cells(session) == set()


def test_sees_changes_not_yet_flushed(app):
    with app.app_context():
        add_taxonomy(db.session)
        db.session.add(Facility(slug="new", name1="New", city="X", state="KS", latitude=37.5,
                                longitude=-97.5, data_source="test",
                                services=[db.session.get(Service, "BU")]))
        result = search(db.session, SearchQuery(37.5, -97.5, 5, (frozenset({"BU"}),)))
        assert [h.facility.slug for h in result.hits] == ["new"]


def test_groups_by_category(app):
    with app.app_context():
        add_taxonomy(db.session)
        groups = groups_by_category(db.session, ["md", "BU", " sf ", "mm", "MD"])
        assert groups == (frozenset({"BU", "MM"}), frozenset({"MD", "SF"}))
        assert groups_by_category(db.session, []) == ()
        with pytest.raises(UnknownServiceCode) as error:
            groups_by_category(db.session, ["BU", "zz", "QQ", "zz"])
        assert error.value.codes == ["ZZ", "QQ"]
        assert "ZZ" in str(error.value)


def test_an_empty_group_matches_nothing(app):
    with app.app_context():
        populate(db.session, random.Random(2), 100)
        result = search(db.session, SearchQuery(40.7, -74.0, 100, (frozenset(),)))
        assert (result.total, result.hits, result.nearest_beyond) == (0, [], [])


@pytest.mark.parametrize("bad", [
    {"sort": "rating"}, {"page": 0}, {"per_page": 0}, {"latitude": 91.0},
    {"longitude": -181.0}, {"radius_miles": -1}, {"radius_miles": math.inf},
])
def test_rejects_impossible_queries(app, bad):
    with app.app_context(), pytest.raises(ValueError):
        search(db.session, replace(SearchQuery(40.0, -74.0), **bad))


def test_national_data_matches_brute_force(national_app):
    rnd = random.Random(99)
    with national_app.app_context():
        session = db.session
        data = snapshot(session)
        zips = session.execute(text("SELECT latitude, longitude FROM zip_code")).all()
        codes = [code for code, in session.execute(
            text("SELECT service_code FROM facility_service GROUP BY service_code"
                 " ORDER BY count(*) DESC LIMIT 6"))]
        assert codes, "the seeded directory links some services"
        for i in range(60):
            lat, lon = rnd.choice(zips)
            groups = (frozenset(rnd.sample(codes, rnd.randint(1, 2))),) if i % 2 else ()
            q = SearchQuery(lat, lon, rnd.choice(RADII), groups,
                            page=rnd.choice([1, 1, 2]), per_page=rnd.choice([10, 25]))
            assert_same(session, data, q)
            session.rollback()
        for state in ("VA", "AK", "PR"):
            lat, lon = rnd.choice(zips)
            assert_same(session, data, SearchQuery(lat, lon, None, state=state, per_page=25))
