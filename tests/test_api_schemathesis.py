"""Schemathesis runs the app's own OpenAPI document against the API, on each engine.

Every documented operation (the JSON API and the FindTreatment.gov-compatible locator) gets
requests generated from the document, valid and invalid ones. Every schemathesis check runs:
no server error, only documented status codes and content types, every body matching its
declared schema, and schema-invalid input refused with a 4xx.

Some rules cannot be written as JSON Schema: a search needs a ``location`` *or* ``lat`` and
``lon`` together, a place must exist, a service code must be one of the taxonomy's, the
locator's ``limitType`` 0 needs a state ID in ``limitValue``. The API refuses such requests with
a documented 400 naming the parameter, so the free runs leave out only the "schema-valid data is
accepted" check; the anchored runs then draw those parameters from real values (the rest still
generated from the document) and require every request to be accepted.
"""

from __future__ import annotations

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from finder.api.findtreatment import STATE_IDS
from finder.directory.models import Facility
from finder.extensions import db
from finder.geo.names import US_STATES
from tests.nasty_input import fuzz_settings

DOCUMENT = "/api/v1/openapi.json"
FACILITIES, FACILITY = "/api/v1/facilities", "/api/v1/facilities/{facility_id}"
SERVICES, LOCATOR = "/api/v1/services", "/locator/exportsAsJson/v2"
WITH_PARAMETERS = [FACILITIES, FACILITY, LOCATOR]
#: Per operation and mode (FUZZ_SCALE multiplies them, see tests/nasty_input.py).
EXAMPLES = 60
ANCHORED_EXAMPLES = 60
#: Places the national gazetteer knows, written the ways visitors write them.
PLACES = ["22902", "Charlottesville, VA", "Austin, TX", "10001", "Anchorage, AK",
          "Honolulu, HI", "1600 Pennsylvania Ave NW, Washington, DC 20500", "san juan, pr"]
S_TYPES = ["sa", "SA", '"sa"', "both", "'Both'", "mh", ""]


@pytest.fixture(scope="module")
def api_schema(national_app):
    return schemathesis.openapi.from_wsgi(DOCUMENT, national_app)


@pytest.fixture(scope="module")
def service_codes(national_app) -> list[str]:
    taxonomy = national_app.test_client().get(SERVICES).get_json()
    return [s["code"] for category in taxonomy["categories"] for s in category["services"]]


def test_every_documented_operation_is_exercised(api_schema):
    assert set(api_schema.raw_schema["paths"]) == {*WITH_PARAMETERS, SERVICES, DOCUMENT}
    assert all(set(item) == {"get"} for item in api_schema.raw_schema["paths"].values())


@pytest.mark.parametrize("path", [*WITH_PARAMETERS, SERVICES, DOCUMENT])
def test_generated_valid_requests_get_documented_answers(api_schema, path):
    operation = api_schema[path]["GET"]

    @fuzz_settings(EXAMPLES)
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def run(case):
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    run()


@pytest.mark.parametrize("path", WITH_PARAMETERS)
def test_generated_invalid_requests_are_refused(api_schema, path):
    operation = api_schema[path]["GET"]

    @fuzz_settings(EXAMPLES)
    @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    def run(case):
        # negative_data_rejection: a schema-invalid request (a wrong type, out of range, too
        # long, a control character) is refused with a 4xx. Unknown extra parameters are
        # ignored, as any web API does; schemathesis knows they are not invalid.
        case.call_and_validate()

    run()


# -- anchored: the rules JSON Schema cannot hold, drawn from real values ----------------------

coordinates = st.tuples(
    st.floats(min_value=-90, max_value=90, allow_nan=False),
    st.floats(min_value=-180, max_value=180, allow_nan=False),
)
states = st.sampled_from(sorted(US_STATES)) | st.sampled_from(sorted(US_STATES.values()))


def _codes(service_codes: list[str]):
    return st.lists(st.sampled_from(service_codes), max_size=3, unique=True)


def _integers_as_digits(api_schema, path: str, query: dict) -> None:
    """An integer goes on the wire as its digits. Schemathesis may send one as an integral
    float ("180.0"), which JSON Schema calls an integer but no client writes in a URL; the API
    refuses it (400, naming the parameter), which the free runs check is documented."""
    for parameter in api_schema.raw_schema["paths"][path]["get"]["parameters"]:
        value = query.get(parameter["name"])
        if parameter["schema"].get("type") == "integer" and isinstance(value, float):
            query[parameter["name"]] = int(value)


def _set(query: dict, name: str, value) -> None:
    if value is None:
        query.pop(name, None)
    else:
        query[name] = value


def test_facility_searches_with_a_real_place_are_accepted(api_schema, service_codes):
    operation = api_schema[FACILITIES]["GET"]

    @fuzz_settings(ANCHORED_EXAMPLES)
    @given(case=operation.as_strategy(), place=st.sampled_from(PLACES) | coordinates,
           codes=_codes(service_codes), state=st.none() | states)
    def run(case, place, codes, state):
        query = case.query = dict(case.query or {})
        if isinstance(place, str):
            query["location"] = place
        else:
            query.pop("location", None)
            query["lat"], query["lon"] = place
        _set(query, "service", codes or None)
        _set(query, "state", state)
        _integers_as_digits(api_schema, FACILITIES, query)
        response = case.call_and_validate()
        assert response.status_code == 200, (query, response.text[:300])

    run()


def test_one_facility_with_or_without_a_point_is_found(api_schema, national_app):
    operation = api_schema[FACILITY]["GET"]
    with national_app.app_context():
        ids = list(db.session.execute(sa.select(Facility.id).order_by(Facility.id)).scalars())

    @fuzz_settings(ANCHORED_EXAMPLES)
    @given(case=operation.as_strategy(), facility_id=st.sampled_from(ids),
           point=st.none() | coordinates)
    def run(case, facility_id, point):
        case.path_parameters = {"facility_id": facility_id}
        query = case.query = dict(case.query or {})
        query.pop("lat", None), query.pop("lon", None)
        if point is not None:
            query["lat"], query["lon"] = point
        response = case.call_and_validate()
        assert response.status_code == 200, (facility_id, query, response.text[:300])

    run()


def test_locator_searches_from_real_coordinates_are_accepted(api_schema, service_codes):
    operation = api_schema[LOCATOR]["GET"]
    limits = st.none() | st.tuples(st.just(0), st.sampled_from(sorted(STATE_IDS))) | st.tuples(
        st.just(2), st.floats(min_value=1, max_value=5_000_000, allow_nan=False))

    @fuzz_settings(ANCHORED_EXAMPLES)
    @given(case=operation.as_strategy(), point=coordinates, limit=limits,
           codes=_codes(service_codes), s_type=st.sampled_from(S_TYPES),
           state=st.none() | states)
    def run(case, point, limit, codes, s_type, state):
        query = case.query = dict(case.query or {})
        query["sAddr"] = f"{point[0]},{point[1]}"
        _set(query, "limitType", limit[0] if limit else None)
        _set(query, "limitValue", limit[1] if limit else None)
        _set(query, "sCodes", ",".join(codes) or None)
        _set(query, "sType", s_type or None)
        _set(query, "stateCode", state)
        _integers_as_digits(api_schema, LOCATOR, query)
        response = case.call_and_validate()
        assert response.status_code == 200, (query, response.text[:300])

    run()
