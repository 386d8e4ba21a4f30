"""The OpenAPI document matches the API: the same routes, the same limits, the same shapes."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

PREFIXES = ("/api/v1", "/locator")
SEARCH = {"location": "Charlottesville, VA"}
LOCATOR = {"sAddr": "38.0282239,-78.4725231", "limitType": "2", "limitValue": "20000"}


@pytest.fixture(scope="module")
def document(national_app):
    response = national_app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def schema_validator(document, name: str) -> Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return Draft202012Validator(schema)


def assert_valid(document, name: str, body) -> None:
    errors = list(schema_validator(document, name).iter_errors(body))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_route_is_documented_and_nothing_else(national_app, document):
    routes = set()
    for rule in national_app.url_map.iter_rules():
        if rule.rule.startswith(PREFIXES):
            routes.add(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
            assert rule.methods - {"HEAD", "OPTIONS"} == {"GET"}, rule.rule
    assert routes == set(document["paths"])
    assert all(set(item) == {"get"} for item in document["paths"].values())


def _parameter(document, path: str, name: str) -> dict:
    parameters = document["paths"][path]["get"]["parameters"]
    return next(p for p in parameters if p["name"] == name)


def test_limits_come_from_the_configuration(document, national_app):
    per_page = _parameter(document, "/api/v1/facilities", "per_page")["schema"]
    assert per_page["maximum"] == national_app.config["API_MAX_PER_PAGE"]
    radius = _parameter(document, "/api/v1/facilities", "radius")["schema"]
    assert (radius["exclusiveMinimum"], radius["maximum"], radius["default"]) == (0, 500, 25)
    page_size = _parameter(document, "/locator/exportsAsJson/v2", "pageSize")["schema"]
    assert (page_size["maximum"], page_size["default"]) == (2000, 30)
    assert _parameter(document, "/locator/exportsAsJson/v2", "sAddr")["required"] is True


def _base(path: str, name: str) -> dict:
    if path == "/locator/exportsAsJson/v2":
        return dict(LOCATOR)
    if name in ("lat", "lon"):
        return {"lat": "38.03", "lon": "-78.47"}
    return dict(SEARCH) if path == "/api/v1/facilities" else {}


def _numbers(document):
    for path, item in document["paths"].items():
        for parameter in item["get"]["parameters"]:
            schema = parameter["schema"]
            if parameter["in"] == "query" and schema.get("type") in ("number", "integer"):
                yield path, parameter["name"], schema


def test_documented_bounds_are_the_enforced_bounds(client, document):
    """Every documented minimum and maximum is accepted; one step beyond is refused by name."""
    checked = 0
    for path, name, schema in _numbers(document):
        url = path.replace("{facility_id}", "1")
        step = 1 if schema["type"] == "integer" else 0.001
        edges = []
        if "minimum" in schema:
            edges += [(schema["minimum"], True), (schema["minimum"] - step, False)]
        if "exclusiveMinimum" in schema:
            low = schema["exclusiveMinimum"]
            edges += [(low + step, True), (low, False)]
        if "maximum" in schema:
            edges += [(schema["maximum"], True), (schema["maximum"] + step, False)]
        for value, accepted in edges:
            query = {**_base(path, name), name: str(value)}
            response = client.get(url, query_string=query)
            body = response.get_json()
            refused_here = response.status_code == 400 and body["error"]["parameter"] == name
            assert refused_here != accepted, (path, query, response.status_code, body)
            checked += 1
    assert checked >= 20


def test_documented_defaults_are_applied(client, document):
    facilities = client.get("/api/v1/facilities", query_string=SEARCH).get_json()
    for name in ("radius", "page", "per_page"):
        default = _parameter(document, "/api/v1/facilities", name)["schema"]["default"]
        assert facilities["radius_miles" if name == "radius" else name] == default
    nationwide = {"sAddr": LOCATOR["sAddr"]}
    rows = client.get("/locator/exportsAsJson/v2", query_string=nationwide).get_json()
    assert len(rows["rows"]) == _parameter(
        document, "/locator/exportsAsJson/v2", "pageSize")["schema"]["default"]


@pytest.mark.parametrize(
    ("path", "query", "schema"),
    [
        ("/api/v1/facilities", {**SEARCH, "per_page": "100", "radius": "50"}, "FacilityList"),
        ("/api/v1/facilities", {"lat": "39.3", "lon": "-116.9", "radius": "1"}, "FacilityList"),
        ("/api/v1/services", {}, "Taxonomy"),
        ("/locator/exportsAsJson/v2", {**LOCATOR, "pageSize": "2000"}, "LocatorPage"),
        ("/locator/exportsAsJson/v2", {**LOCATOR, "sType": "mh"}, "LocatorPage"),
        ("/api/v1/facilities", {"radius": "0"}, "Error"),
        ("/api/v1/facilities", {"location": "Qwzxv Plorbtown, ZZ"}, "Error"),
        ("/api/v1/facilities", {**SEARCH, "service": "NOPE"}, "Error"),
        ("/api/v1/facilities/999999999", {}, "Error"),
        ("/api/v1/no-such-thing", {}, "Error"),
        ("/locator/exportsAsJson/v2", {"sAddr": "x"}, "Error"),
    ],
)
def test_responses_match_their_schemas(client, document, path, query, schema):
    response = client.get(path, query_string=query)
    body = response.get_json()
    assert_valid(document, schema, body)
    if schema != "Error":
        assert response.status_code == 200
        documented = document["paths"][path]["get"]["responses"]["200"]
        assert documented["content"]["application/json"]["schema"]["$ref"].endswith(schema)


def test_one_facility_matches_its_schema(client, document):
    listed = client.get("/api/v1/facilities", query_string=SEARCH).get_json()["facilities"]
    for facility in listed:
        body = client.get(f"/api/v1/facilities/{facility['id']}",
                          query_string={"lat": "38", "lon": "-78.5"}).get_json()
        assert_valid(document, "Facility", body)


def test_schemas_reject_drift(document):
    """The schemas are closed: a renamed or extra key would fail validation."""
    sample = {"page": 1, "totalPages": 0, "recordCount": 0, "rows": []}
    assert_valid(document, "LocatorPage", sample)
    assert list(schema_validator(document, "LocatorPage").iter_errors({**sample, "extra": 1}))
    assert list(schema_validator(document, "LocatorPage").iter_errors({"page": 1}))
