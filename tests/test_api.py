"""The open JSON API, /api/v1, on the seeded national directory (both backends)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finder.directory.models import Facility, FacilityStatus
from finder.extensions import db
from finder.geo.distance import haversine_miles

CHARLOTTESVILLE = {"location": "Charlottesville, VA"}


def get_ok(client, path, **params):
    response = client.get(path, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def get_error(client, path, status=400, **params):
    response = client.get(path, query_string=params)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == status
    assert error["message"]
    return error


def category_ranks(client) -> dict[str, int]:
    categories = get_ok(client, "/api/v1/services")["categories"]
    return {category["code"]: rank for rank, category in enumerate(categories)}


def test_search_by_place_nearest_first(client):
    body = get_ok(client, "/api/v1/facilities", **CHARLOTTESVILLE, per_page=4)
    assert body["place"]["label"].startswith("Charlottesville")
    assert body["place"]["state"] == "VA"
    assert body["place"]["precision"] == "city"
    assert body["radius_miles"] == 25
    assert (body["page"], body["per_page"]) == (1, 4)
    assert body["total"] > 4
    assert body["pages"] == math.ceil(body["total"] / 4)
    assert len(body["facilities"]) == 4
    assert body["nearest_beyond"] == []
    distances = [f["distance_miles"] for f in body["facilities"]]
    assert distances == sorted(distances)
    place = body["place"]
    for facility in body["facilities"]:
        exact = haversine_miles(
            place["latitude"], place["longitude"], facility["latitude"], facility["longitude"]
        )
        assert facility["distance_miles"] == round(exact, 2) <= 25
        assert facility["status"] == "active"


def test_facility_fields(client):
    body = get_ok(client, "/api/v1/facilities", **CHARLOTTESVILLE, per_page=100)
    facilities = body["facilities"]
    assert any(f["phone"] for f in facilities)
    for facility in facilities:
        assert isinstance(facility["id"], int)
        assert facility["url"] == f"http://localhost/facilities/{facility['slug']}"
        assert facility["phone"] is None or facility["phone"].startswith("+1")
        assert facility["intake_phone"] is None or facility["intake_phone"].startswith("+1")
        assert facility["data_source"]
    page = client.get(facilities[0]["url"])
    assert page.status_code == 200


def test_services_come_in_category_order(client):
    ranks = category_ranks(client)
    body = get_ok(client, "/api/v1/facilities", **CHARLOTTESVILLE, per_page=100, radius=50)
    with_services = [f for f in body["facilities"] if f["services"]]
    assert with_services, "the 2019 API sample gives Charlottesville facilities services"
    for facility in with_services:
        order = [ranks[service["category"]] for service in facility["services"]]
        assert order == sorted(order)
        assert all(service["label"] for service in facility["services"])


def _codes_near_charlottesville(client) -> tuple[dict[int, set[str]], dict[str, str]]:
    body = get_ok(client, "/api/v1/facilities", **CHARLOTTESVILLE, per_page=100, radius=50)
    assert body["total"] <= 100
    codes = {f["id"]: {s["code"] for s in f["services"]} for f in body["facilities"]}
    categories = {s["code"]: s["category"] for f in body["facilities"] for s in f["services"]}
    return codes, categories


def _ids(client, *codes) -> set[int]:
    query = {**CHARLOTTESVILLE, "per_page": 100, "radius": 50}
    response = client.get("/api/v1/facilities", query_string={**query, "service": list(codes)})
    assert response.status_code == 200, response.get_data(as_text=True)
    return {f["id"] for f in response.get_json()["facilities"]}


def test_service_filters_or_within_a_category_and_across(client):
    codes, categories = _codes_near_charlottesville(client)
    holders = {}
    for facility_id, offered in codes.items():
        for code in offered:
            holders.setdefault(code, set()).add(facility_id)
    # Two codes of one category that not every facility shares, and one of another category.
    partial = sorted(code for code, ids in holders.items() if 0 < len(ids) < len(codes))
    a, b, c = next(
        (a, b, c) for a in partial for b in partial for c in partial
        if a < b and categories[a] == categories[b] and holders[a] != holders[b]
        and categories[c] != categories[a]
        and holders[a] & holders[c] and holders[a] - holders[c]
    )

    assert _ids(client, a) == holders[a]
    assert _ids(client, a, b) == holders[a] | holders[b]
    assert _ids(client, f"{a},{b}") == holders[a] | holders[b]
    assert _ids(client, a, c) == holders[a] & holders[c]
    assert _ids(client, a.lower()) == holders[a]


def test_search_by_point(client):
    body = get_ok(client, "/api/v1/facilities", lat="38.0293", lon="-78.4767", radius="10")
    assert body["place"]["precision"] == "coordinates"
    assert body["place"]["latitude"] == pytest.approx(38.0293)
    assert body["radius_miles"] == 10
    assert body["total"] > 0
    assert all(f["distance_miles"] <= 10 for f in body["facilities"])


def test_pages_do_not_overlap(client):
    first = get_ok(client, "/api/v1/facilities", **CHARLOTTESVILLE, per_page=5)
    second = get_ok(client, "/api/v1/facilities", **CHARLOTTESVILLE, per_page=5, page=2)
    assert second["page"] == 2 and second["total"] == first["total"]
    assert not {f["id"] for f in first["facilities"]} & {f["id"] for f in second["facilities"]}
    assert first["facilities"][-1]["distance_miles"] <= second["facilities"][0]["distance_miles"]
    beyond = get_ok(client, "/api/v1/facilities", **CHARLOTTESVILLE, page=first["pages"] + 1)
    assert beyond["facilities"] == [] and beyond["total"] == first["total"]


def test_state_filter(client):
    # Bristol, VA sits on the Tennessee line.
    both = get_ok(client, "/api/v1/facilities", location="Bristol, VA", per_page=100)
    assert {f["state"] for f in both["facilities"]} >= {"VA", "TN"}
    for state in ("TN", "tennessee"):
        only = get_ok(client, "/api/v1/facilities", location="Bristol, VA", state=state,
                      per_page=100)
        assert only["total"] > 0
        assert {f["state"] for f in only["facilities"]} == {"TN"}


def test_nothing_within_the_radius_lists_the_nearest_beyond(client):
    # Central Nevada: open desert for miles around.
    body = get_ok(client, "/api/v1/facilities", lat="39.3", lon="-116.9", radius="1")
    assert body["total"] == 0 and body["facilities"] == [] and body["pages"] == 0
    beyond = body["nearest_beyond"]
    assert beyond
    distances = [f["distance_miles"] for f in beyond]
    assert distances == sorted(distances) and distances[0] > 1


def test_closed_facilities_only_when_asked(seeded_app):
    client = seeded_app.test_client()
    nearest = get_ok(client, "/api/v1/facilities", **CHARLOTTESVILLE)["facilities"][0]
    with seeded_app.app_context():
        db.session.get(Facility, nearest["id"]).status = FacilityStatus.CLOSED
        db.session.commit()
    listed = get_ok(client, "/api/v1/facilities", **CHARLOTTESVILLE, per_page=100)
    assert nearest["id"] not in {f["id"] for f in listed["facilities"]}
    everything = get_ok(client, "/api/v1/facilities", **CHARLOTTESVILLE, per_page=100,
                        include_closed="true")
    closed = [f for f in everything["facilities"] if f["id"] == nearest["id"]]
    assert closed and closed[0]["status"] == "closed"
    assert everything["total"] == listed["total"] + 1


def test_one_facility(client):
    listed = get_ok(client, "/api/v1/facilities", **CHARLOTTESVILLE)["facilities"][0]
    facility = get_ok(client, f"/api/v1/facilities/{listed['id']}")
    assert facility["distance_miles"] is None
    assert {k: v for k, v in facility.items() if k != "distance_miles"} == {
        k: v for k, v in listed.items() if k != "distance_miles"
    }
    near = get_ok(client, f"/api/v1/facilities/{listed['id']}", lat="38.0293", lon="-78.4767")
    expected = haversine_miles(38.0293, -78.4767, listed["latitude"], listed["longitude"])
    assert near["distance_miles"] == round(expected, 2)


def test_unknown_facility_is_a_json_404_naming_the_id(client):
    error = get_error(client, "/api/v1/facilities/999999999", status=404)
    assert "999999999" in error["message"]


@pytest.mark.parametrize("facility_id", ["2147483648", "99999999999999999999999"])
def test_ids_beyond_any_row_are_a_json_404_not_a_database_error(client, facility_id):
    # Larger than an INTEGER column can hold: the URL converter refuses them (no query runs).
    error = get_error(client, f"/api/v1/facilities/{facility_id}", status=404)
    assert error["status"] == 404


def test_unknown_api_route_is_a_json_404(client):
    get_error(client, "/api/v1/nothing-here", status=404)
    get_error(client, "/api/v1/facilities/abc", status=404)


def test_services_taxonomy(client):
    categories = get_ok(client, "/api/v1/services")["categories"]
    services = [s for c in categories for s in c["services"]]
    assert len(services) == 204
    assert len({s["code"] for s in services}) == 204
    assert {"code", "label", "plain_label", "confirmed"} == set(services[0])
    # Twelve codes were not confirmed by a second source (see the data README).
    assert sorted(s["code"] for s in services if not s["confirmed"]) == sorted(
        "DLC MWS MMD MPEP MX SOTP DEA SAMF MHPA HEO TOD OUDO".split()
    )
    with_tc = [c for c in categories if c["code"] == "TC"]
    assert with_tc and "SA" in {s["code"] for s in with_tc[0]["services"]}


def test_services_are_ordered_by_position(client, national_app):
    from finder.directory.models import ServiceCategory

    categories = get_ok(client, "/api/v1/services")["categories"]
    with national_app.app_context():
        rows = db.session.scalars(db.select(ServiceCategory)).all()
        position = {row.code: row.position for row in rows}
        service_position = {
            service.code: service.position for row in rows for service in row.services
        }
    order = [position[c["code"]] for c in categories]
    assert order == sorted(order)
    for category in categories:
        order = [service_position[s["code"]] for s in category["services"]]
        assert order == sorted(order)


BAD_SEARCHES = [
    ({"location": "Qwzxv Plorbtown, ZZ"}, "location"),
    ({"location": "x" * 5000}, "location"),
    ({}, "location"),
    ({"location": "   "}, "location"),
    ({**CHARLOTTESVILLE, "radius": "0"}, "radius"),
    ({**CHARLOTTESVILLE, "radius": "10000"}, "radius"),
    ({**CHARLOTTESVILLE, "radius": "-5"}, "radius"),
    ({**CHARLOTTESVILLE, "radius": "nan"}, "radius"),
    ({**CHARLOTTESVILLE, "radius": "inf"}, "radius"),
    ({**CHARLOTTESVILLE, "radius": "far"}, "radius"),
    ({**CHARLOTTESVILLE, "page": "-1"}, "page"),
    ({**CHARLOTTESVILLE, "page": "0"}, "page"),
    ({**CHARLOTTESVILLE, "page": "abc"}, "page"),
    ({**CHARLOTTESVILLE, "page": "99999999999999999999"}, "page"),
    ({**CHARLOTTESVILLE, "per_page": "1000"}, "per_page"),
    ({**CHARLOTTESVILLE, "per_page": "0"}, "per_page"),
    ({**CHARLOTTESVILLE, "service": "NOPE"}, "service"),
    ({**CHARLOTTESVILLE, "service": ["SA", "ZZZ9"]}, "service"),
    ({**CHARLOTTESVILLE, "service": "<script>"}, "service"),
    ({"lat": "38.03"}, "lon"),
    ({"lon": "-78.47"}, "lat"),
    ({"lat": "200", "lon": "-78.47"}, "lat"),
    ({"lat": "38.03", "lon": "-278.47"}, "lon"),
    ({"lat": "38.03", "lon": "west"}, "lon"),
    ({"lat": "north", "lon": "-78.47"}, "lat"),
    ({**CHARLOTTESVILLE, "state": "ZZ"}, "state"),
    ({**CHARLOTTESVILLE, "include_closed": "perhaps"}, "include_closed"),
]


@pytest.mark.parametrize(("params", "parameter"), BAD_SEARCHES)
def test_bad_search_is_a_400_naming_the_parameter(client, params, parameter):
    error = get_error(client, "/api/v1/facilities", **params)
    assert error["parameter"] == parameter


def test_unknown_place_carries_the_geocoders_suggestions(client):
    error = get_error(client, "/api/v1/facilities", location="Charlotesville, VA")
    assert error["parameter"] == "location"
    assert isinstance(error["suggestions"], list)
    assert any("Charlottesville" in suggestion for suggestion in error["suggestions"])


def test_unknown_service_code_is_named(client):
    error = get_error(client, "/api/v1/facilities", **CHARLOTTESVILLE, service=["BU", "NOPE"])
    assert "NOPE" in error["message"] and error["codes"] == ["NOPE"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [({"lat": "abc", "lon": "-78"}, "lat"), ({"lat": "38"}, "lon"), ({"lon": "-78"}, "lat")],
)
def test_bad_point_on_one_facility(client, params, parameter):
    error = get_error(client, "/api/v1/facilities/1", **params)
    assert error["parameter"] == parameter


def test_cors_and_cache_headers(client):
    ok = client.get("/api/v1/facilities", query_string=CHARLOTTESVILLE)
    assert ok.headers["Access-Control-Allow-Origin"] == "*"
    assert ok.headers["Cache-Control"] == "public, max-age=300"
    for path in ("/api/v1/services", "/api/v1/openapi.json", "/api/v1/facilities/1"):
        response = client.get(path)
        assert response.headers["Access-Control-Allow-Origin"] == "*", path
    refused = client.get("/api/v1/facilities", query_string={"radius": "0"})
    assert refused.status_code == 400
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    assert "public" not in refused.headers.get("Cache-Control", "")


def test_only_get(client):
    response = client.post("/api/v1/facilities", data=CHARLOTTESVILLE)
    assert response.status_code in (400, 405)
    assert response.mimetype == "application/json"


_TYPED = st.text(max_size=40) | st.sampled_from(["", "0", "-1", "1e400", "nan", "1,2", "%00"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["location", "lat", "lon", "radius", "service", "page", "per_page",
                          "state", "include_closed"]),
    value=_TYPED,
    other=_TYPED,
)
def test_nothing_typed_is_a_500(national_app, name, value, other):
    client = national_app.test_client()
    query = {"location": other, name: value}
    for path in ("/api/v1/facilities", "/api/v1/facilities/1"):
        response = client.get(path, query_string=query)
        assert response.status_code in (200, 400, 404), (path, query)
        assert response.mimetype == "application/json"
