"""Request size limits: oversized bodies get a clean 413 everywhere and change nothing; the staff
import alone takes files up to IMPORT_MAX_BYTES; absurd query strings are a 400, never a 500."""

from __future__ import annotations

import io
import json

import pytest
from werkzeug.test import EnvironBuilder

import finder
from finder.extensions import db
from finder.seeding.taxonomy import sync_taxonomy
from tests.staff_helpers import csrf_token, logged_in_client, row_counts
from tests.voice_helpers import build_pool, call_params, new_call_sid, signature

LIMIT = 1024 * 1024  # MAX_CONTENT_LENGTH's default
API_SAMPLE = finder.ROOT / "seeds" / "findtreatment_api_sample_2019.json"
SLUG = "region-ten-community-services-board-charlottesville-va"


def send(client, path: str, *, method: str = "POST", data=None, headers=None,
         query_string=None):
    """A request with a large body. The test client spools big bodies to a temporary file that
    closing the response leaves open: build the body here and close it."""
    builder = EnvironBuilder(path=path, method=method, data=data, headers=headers,
                             query_string=query_string)
    environ = builder.get_environ()
    try:
        response = client.open(environ)
        response.get_data()
    finally:
        environ["wsgi.input"].close()
        builder.close()
    return response


def assert_413_page(response) -> None:
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert "too large" in body and "/static/site.css" in body and "Traceback" not in body


def assert_413_json(response) -> None:
    assert response.status_code == 413 and response.mimetype == "application/json"
    assert response.get_json() == {"error": {"status": 413,
                                             "message": "That request is too large."}}


def test_public_forms_refuse_oversized_bodies(national_app, client):
    before = row_counts(national_app)
    token = csrf_token(client.get(f"/facilities/{SLUG}/report").data)
    huge = "x" * (LIMIT + 1)
    for path, form in [
        (f"/facilities/{SLUG}/report", {"csrf_token": token, "details": huge}),
        ("/guides/alcohol/comments", {"csrf_token": token, "body": huge}),
        ("/login", {"csrf_token": token, "email": huge, "password": "x"}),
        ("/search", {"location": huge}),  # a GET-only page: refused for its size first
    ]:
        assert_413_page(send(client, path, data=form))
    assert row_counts(national_app) == before


def test_the_api_refuses_oversized_bodies(national_app, client):
    huge = b"{" + b" " * (LIMIT + 1) + b"}"
    headers = {"Content-Type": "application/json"}
    for path in ("/api/v1/facilities", "/locator/exportsAsJson/v2"):
        # The API reads only its query string, yet a GET dragging a huge body is refused too.
        assert_413_json(send(client, path, method="GET", data=huge, headers=headers,
                             query_string={"location": "22902"}))
        assert_413_json(send(client, path, data=huge, headers=headers))
    small = client.get("/api/v1/facilities", query_string={"location": "22902"})
    assert small.status_code == 200


def test_voice_webhooks_refuse_oversized_bodies_and_change_nothing(app):
    pool = build_pool(app)
    client = app.test_client()
    before = row_counts(app)
    for path in ("/voice/incoming", "/voice/status", "/voice/fallback"):
        params = call_params(new_call_sid(), pool.helpline_number, Padding="x" * (LIMIT + 1))
        headers = {"X-Twilio-Signature": signature(app, "http://localhost" + path, params)}
        response = send(client, path, data=params, headers=headers)
        assert response.status_code == 413, path
        assert "Traceback" not in response.get_data(as_text=True)
    assert row_counts(app) == before
    # An ordinary signed call still gets through afterwards.
    params = call_params(new_call_sid(), pool.helpline_number)
    headers = {"X-Twilio-Signature": signature(app, "http://localhost/voice/incoming", params)}
    ordinary = client.post("/voice/incoming", data=params, headers=headers)
    assert ordinary.status_code == 200 and ordinary.mimetype == "text/xml"


@pytest.fixture
def taxonomy_app(app):
    with app.app_context():
        sync_taxonomy(db.session, finder.ROOT / "seeds")
        db.session.commit()
    return app


def import_upload(client, data: bytes, token: str):
    form = {"kind": "findtreatment", "file": (io.BytesIO(data), "page.json"), "dry_run": "y",
            "csrf_token": token}
    return send(client, "/staff/transfer/import", data=form)


def test_the_import_upload_takes_files_up_to_its_own_limit(taxonomy_app):
    app = taxonomy_app
    client, _ = logged_in_client(app, "admin")
    token = csrf_token(client.get("/staff/transfer/").data)
    # The real 2019 API page, padded with JSON whitespace to more than the general limit.
    sample = API_SAMPLE.read_bytes()
    padded = sample + b" " * (LIMIT + 1 - len(sample)) + b"\n"
    assert len(padded) > app.config["MAX_CONTENT_LENGTH"]
    assert json.loads(padded) == json.loads(sample)
    before = row_counts(app)

    accepted = import_upload(client, padded, token)
    assert accepted.status_code == 200, accepted.get_data(as_text=True)[:500]
    assert b"Dry run report" in accepted.data
    assert row_counts(app) == before  # a dry run

    too_big = b" " * (app.config["IMPORT_MAX_BYTES"] + 1)
    refused = import_upload(client, too_big, token)
    assert_413_page(refused)
    assert row_counts(app) == before


# -- query strings ------------------------------------------------------------------------------

@pytest.mark.parametrize("query, message", [
    ({"location": "x" * 10_000}, "too long for a place"),
    ({"location": "22902", "page": "9" * 5000}, "page number must be a whole number"),
    ({"location": "22902", "page": "²"}, "page number must be a whole number"),
    ({"location": "22902", "page": "٣"}, "page number must be a whole number"),
    ({"location": "22902", "radius": "9" * 5000}, "radius"),
    ({"lat": "9" * 5000, "lon": "1"}, "Latitude and longitude must both be numbers"),
    ({"location": "22902", "service": "X" * 5000}, "Service codes are short"),
])
def test_absurd_search_queries_are_a_400_with_a_message(client, query, message):
    response = client.get("/search", query_string=query)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert 'class="error-summary"' in body and message in body


def test_a_long_list_of_repeated_services_is_one_service(client):
    response = client.get("/search", query_string={"location": "22902",
                                                   "service": ",".join(["MD"] * 5000)})
    assert response.status_code == 200


@pytest.mark.parametrize("path, query, parameter", [
    ("/api/v1/facilities", {"location": "x" * 10_000}, "location"),
    ("/api/v1/facilities", {"location": "22902", "page": "9" * 5000}, "page"),
    ("/api/v1/facilities", {"location": "22902", "page": "²"}, "page"),
    ("/api/v1/facilities", {"location": "22902", "per_page": "9" * 5000}, "per_page"),
    ("/locator/exportsAsJson/v2", {"sAddr": "x" * 10_000}, "sAddr"),
    ("/locator/exportsAsJson/v2", {"sAddr": "38.03,-78.48", "page": "9" * 5000}, "page"),
])
def test_absurd_api_queries_are_a_400_naming_the_parameter(client, path, query, parameter):
    response = client.get(path, query_string=query)
    assert response.status_code == 400 and response.mimetype == "application/json"
    assert response.get_json()["error"]["parameter"] == parameter


def test_staff_page_numbers_and_ids_typed_oddly_are_not_errors(app):
    """"²" is a digit to str.isdigit() but not to int(): each of these once was a 500."""
    client, _ = logged_in_client(app, "admin")
    for path in ("/staff/changes/", "/staff/calls/", "/staff/numbers/", "/staff/reports/",
                 "/staff/guides/comments", "/staff/facilities/"):
        for page in ("²", "٣", "9" * 5000):
            response = client.get(path, query_string={"page": page})
            assert response.status_code == 200, (path, page, response.status_code)
    for path, query in [("/staff/numbers/new", {"facility": "²"}),
                        ("/staff/numbers/", {"q": "²"}),
                        ("/staff/pool/advertisers/new", {"facility": "²", "pool": "²"})]:
        response = client.get(path, query_string=query)
        assert response.status_code == 200, (path, query, response.status_code)
    token = csrf_token(client.get("/staff/numbers/new").data)
    for kind, field in (("facility", "facility"), ("helpline", "pool_id")):
        response = client.post("/staff/numbers/new", data={
            "csrf_token": token, "number": "+14345550188", "kind": kind, field: "²"})
        assert response.status_code == 400, (kind, response.status_code)
