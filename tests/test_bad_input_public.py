"""Arbitrary text in every public page and form: never a 500, a clear refusal, no changed data.

Hypothesis drives the search page (every query parameter), the facility pages (their ids and the
search arguments they carry), the "report a problem" form, the guide comment form and the login
form, with valid and missing or forged CSRF tokens. Refused input changes no row; a valid report
or comment adds exactly its own row, holding what was typed.
"""

from __future__ import annotations

import re
from collections import Counter
from html import unescape

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sqlalchemy import select

from finder.directory.models import Facility
from finder.extensions import db
from finder.guides.models import Guide, GuideComment, GuideStatus
from finder.moderation.models import ProblemReport
from tests.conftest import dispose, make_app
from tests.nasty_input import (
    added_rows,
    as_received,
    clearly_refused,
    fuzz_settings,
    page_text,
    path_segment,
    post_form,
    query_string,
    row_counts,
    shows_a_field_error,
    table_rows,
    wire_value,
    with_mutations,
)
from tests.staff_helpers import PASSWORD, csrf_token, make_user

SEARCH_NAMES = ["location", "lat", "lon", "radius", "service", "page", "per_page", "sort",
                "filters", "state"]
PLACES = ["22902", "Charlottesville, VA", "Austin, TX", "10001"]
VALID = {"location": st.sampled_from(PLACES), "radius": st.sampled_from(["5", "25", "100"]),
         "service": st.sampled_from(["BU", "MD", "SF"]), "page": st.sampled_from(["1", "2"]),
         "lat": st.just("38.03"), "lon": st.just("-78.48")}
#: A mix of good arguments (so the search gets deep) and arbitrary ones.
search_pairs = st.lists(
    st.one_of(
        st.sampled_from(sorted(VALID)).flatmap(lambda name: st.tuples(st.just(name), VALID[name])),
        st.tuples(st.sampled_from(SEARCH_NAMES), wire_value),
    ),
    min_size=1, max_size=6,
)


@pytest.fixture(scope="module")
def forms_app(databases, national_template):
    """A private copy of the national data whose public forms take many posts quickly."""
    app = make_app(databases.new(template=national_template), REPORT_MIN_FILL_SECONDS=0,
                   REPORT_RATE_LIMIT="100000 per hour", COMMENT_RATE_LIMIT="100000 per hour",
                   LOGIN_RATE_LIMIT="100000 per hour")
    yield app
    dispose(app)


@pytest.fixture(scope="module")
def facility_slugs(national_app) -> list[str]:
    with national_app.app_context():
        return list(db.session.execute(
            select(Facility.slug).order_by(Facility.id).limit(3)).scalars())


# -- the search page ---------------------------------------------------------------------------


def test_the_search_page_answers_any_arguments_without_changing_anything(national_app):
    client = national_app.test_client()
    before = row_counts(national_app)
    outcomes = Counter()

    @fuzz_settings(250)
    @given(pairs=search_pairs)
    def run(pairs):
        response = client.get("/search?" + query_string(pairs))
        assert response.status_code in (200, 400), (pairs, response.status_code)
        if response.status_code == 400:
            assert shows_a_field_error(response), (pairs, page_text(response)[:300])
        outcomes["results" if 'class="results' in response.get_data(as_text=True)
                 else response.status_code] += 1

    run()
    assert outcomes["results"] and outcomes[400], outcomes
    assert row_counts(national_app) == before


@pytest.mark.parametrize("location", ["22902\x00", "\x0022902", "Charlottesville\x00, VA",
                                      "\x1f\x1e22902\t"])
def test_control_characters_in_the_place_are_cleaned_out(client, location):
    """As the geocoder does: nothing reaches the database with a NUL in it (PostgreSQL
    refuses those), and the visitor gets the place they meant."""
    response = client.get("/search?" + query_string([("location", location)]))
    assert response.status_code == 200
    assert "Charlottesville" in page_text(response)
    api = client.get("/api/v1/facilities?" + query_string([("location", location)]))
    assert api.status_code == 200
    assert api.get_json()["place"]["label"].startswith(("22902", "Charlottesville"))


@pytest.mark.parametrize("service", ["BU\x1f", "\tBU", "B\x00U", "BU,\x1c"])
def test_control_characters_in_service_codes_are_refused(client, service):
    """The document forbids control characters in every text parameter but the place."""
    pairs = [("location", "22902"), ("service", service)]
    api = client.get("/api/v1/facilities?" + query_string(pairs))
    assert api.status_code == 400
    assert api.get_json()["error"]["parameter"] == "service"
    page = client.get("/search?" + query_string(pairs))
    assert page.status_code == 400
    assert shows_a_field_error(page)


# -- facility pages ----------------------------------------------------------------------------


def test_facility_pages_answer_any_id_and_search_arguments(national_app, facility_slugs):
    client = national_app.test_client()
    before = row_counts(national_app)

    @fuzz_settings(150)
    @given(slug=st.sampled_from(facility_slugs) | wire_value, pairs=search_pairs,
           report=st.booleans())
    def run(slug, pairs, report):
        path = f"/facilities/{path_segment(slug)}" + ("/report" if report else "")
        response = client.get(path + "?" + query_string(pairs))
        # 308: werkzeug merges the slashes of an empty id ("/facilities//report").
        assert response.status_code in (200, 308, 404), (path, pairs, response.status_code)
        if slug in facility_slugs:
            assert response.status_code == 200
        elif response.status_code == 404:
            assert "couldn't find" in page_text(response)

    run()
    assert row_counts(national_app) == before


def test_other_public_pages_answer_any_arguments(national_app):
    client = national_app.test_client()
    before = row_counts(national_app)

    @fuzz_settings(100)
    @given(page=st.sampled_from(["/", "/guides", "/where-do-calls-go", "/guides/"]),
           slug=st.just(b"") | wire_value, pairs=search_pairs)
    def run(page, slug, pairs):
        path = page + path_segment(slug) if page == "/guides/" else page
        response = client.get(path + "?" + query_string(pairs))
        assert response.status_code in (200, 308, 404), (path, pairs, response.status_code)

    run()
    assert row_counts(national_app) == before


@pytest.mark.parametrize("path", ["/facilities/%00", "/facilities/a%00b/report",
                                  "/guides/%00", "/guides/opioids%00"])
def test_a_nul_in_a_page_address_is_not_found(client, path):
    """PostgreSQL refuses NUL in a query; the lookup now answers "no such page" first."""
    assert client.get(path).status_code == 404
    assert client.post("/guides/%00/comments").status_code in (400, 404)


# -- the public forms --------------------------------------------------------------------------

#: Mostly a valid token, so the fields themselves get tested; sometimes none or a wrong one.
csrf_choice = st.sampled_from(["valid"] * 5 + ["missing", "forged", "other session"])
#: The honeypot mostly empty (a person), sometimes filled (a bot).
honeypot_value = st.sampled_from([b""] * 5) | wire_value


def _token(client, page: str, choice: str, forged: bytes, other_app) -> bytes | None:
    html = client.get(page).get_data(as_text=True)
    if choice == "valid":
        return csrf_token(html).encode()
    if choice == "forged":
        return forged
    if choice == "other session":
        return csrf_token(other_app.test_client().get(page).data).encode()
    return None


def _hidden(html: str, name: str) -> bytes:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    return unescape(re.search(r'value="([^"]*)"', tag.group()).group(1)).encode()


REPORT_FIELDS = ("problem", "message", "suggested_phone", "suggested_website", "email")
GOOD_REPORT = {"problem": "phone", "message": "The number rings a pizza place.",
               "suggested_phone": "(434) 555-0161", "suggested_website": "example.org",
               "email": "someone@example.org"}


def _report_values():
    """One or two fields blank, arbitrary or spoiled; the others good (so some reports pass)."""
    return with_mutations(GOOD_REPORT)


def test_the_report_form_stores_valid_reports_and_nothing_else(forms_app, facility_slugs):
    slug = facility_slugs[0]
    page = f"/facilities/{slug}/report"
    outcomes = Counter()

    @fuzz_settings(80)
    @given(values=_report_values(), csrf=csrf_choice, forged=wire_value,
           honeypot=honeypot_value)
    def run(values, csrf, forged, honeypot):
        client = forms_app.test_client()
        html = client.get(page).get_data(as_text=True)
        token = _token(client, page, csrf, forged, forms_app)
        pairs = [*values.items(), ("url", honeypot), ("started", _hidden(html, "started"))]
        if token is not None:
            pairs.append(("csrf_token", token))
        before = row_counts(forms_app)
        response = post_form(client, page, pairs)
        added = added_rows(before, row_counts(forms_app))
        assert response.status_code in (201, 400), (values, response.status_code)
        if response.status_code == 400:
            assert added == {}, values
            assert clearly_refused(response), page_text(response)[:300]
            outcomes["refused"] += 1
            return
        if honeypot:
            assert added == {}  # the bot's thanks: nothing kept
            outcomes["trapped"] += 1
            return
        assert csrf == "valid"
        assert added == {"problem_report": 1}, added
        outcomes["stored"] += 1
        with forms_app.app_context():
            stored = db.session.execute(
                select(ProblemReport).order_by(ProblemReport.id.desc()).limit(1)).scalar_one()
            typed = as_received(values["message"]).replace("\r\n", "\n").strip()
            assert stored.message == typed
            assert "\x00" not in stored.message

    run()
    assert outcomes["refused"] and outcomes["trapped"] and outcomes["stored"], outcomes


GOOD_COMMENT = {"display_name": "Sam", "body": "This guide helped me find a program."}


def test_the_comment_form_stores_valid_comments_and_nothing_else(forms_app):
    with forms_app.app_context():
        slug = db.session.execute(select(Guide.slug).where(
            Guide.status == GuideStatus.PUBLISHED).order_by(Guide.id).limit(1)).scalar_one()
    page, target = f"/guides/{slug}", f"/guides/{slug}/comments"
    outcomes = Counter()

    @fuzz_settings(80)
    @given(values=with_mutations(GOOD_COMMENT), csrf=csrf_choice, forged=wire_value,
           honeypot=honeypot_value)
    def run(values, csrf, forged, honeypot):
        name, body = values["display_name"], values["body"]
        client = forms_app.test_client()
        token = _token(client, page, csrf, forged, forms_app)
        pairs = [("display_name", name), ("body", body), ("website", honeypot)]
        if token is not None:
            pairs.append(("csrf_token", token))
        before = row_counts(forms_app)
        response = post_form(client, target, pairs)
        added = added_rows(before, row_counts(forms_app))
        assert response.status_code in (201, 400), (name, body, response.status_code)
        if response.status_code == 400:
            assert added == {}
            assert clearly_refused(response), page_text(response)[:300]
            outcomes["refused"] += 1
            return
        if honeypot:
            assert added == {}
            outcomes["trapped"] += 1
            return
        assert csrf == "valid"
        assert added == {"guide_comment": 1}, added
        outcomes["stored"] += 1
        with forms_app.app_context():
            stored = db.session.execute(
                select(GuideComment).order_by(GuideComment.id.desc()).limit(1)).scalar_one()
            assert stored.body == as_received(body).replace("\r\n", "\n").strip()
            assert "\x00" not in stored.body + (stored.display_name or "")

    run()
    assert outcomes["refused"] and outcomes["trapped"] and outcomes["stored"], outcomes


def test_the_login_form_refuses_anything_but_the_right_password(forms_app):
    email, _ = make_user(forms_app, email="fuzz-admin@example.org")
    accounts = ("user_account", "change_log")

    @fuzz_settings(50)
    @given(typed_email=st.just(email.encode()) | wire_value, password=wire_value,
           csrf=csrf_choice, forged=wire_value, next_path=st.just(b"") | wire_value)
    def run(typed_email, password, csrf, forged, next_path):
        assume(password != PASSWORD.encode())
        client = forms_app.test_client()
        token = _token(client, "/login", csrf, forged, forms_app)
        pairs = [("email", typed_email), ("password", password)]
        if token is not None:
            pairs.append(("csrf_token", token))
        before = table_rows(forms_app, accounts)
        response = post_form(client, "/login?" + query_string([("next", next_path)]), pairs)
        assert response.status_code == 400, (typed_email, password, response.status_code)
        assert clearly_refused(response), page_text(response)[:300]
        assert table_rows(forms_app, accounts) == before
        assert client.get("/staff/").status_code in (302, 401, 403)

    run()


@pytest.mark.parametrize("bad", ["A NUL\x00 in the middle", "\x00", "bell\x07", "esc\x1b[31m"])
def test_control_characters_in_a_report_or_comment_are_a_field_error(forms_app, facility_slugs,
                                                                      bad):
    """They used to be stored on SQLite and to fail the insert (a 500) on PostgreSQL."""
    client = forms_app.test_client()
    report = f"/facilities/{facility_slugs[1]}/report"
    html = client.get(report).get_data(as_text=True)
    pairs = [*GOOD_REPORT.items(), ("message", bad), ("url", ""),
             ("started", _hidden(html, "started")), ("csrf_token", csrf_token(html))]
    with forms_app.app_context():
        guide = db.session.execute(select(Guide.slug).where(
            Guide.status == GuideStatus.PUBLISHED).order_by(Guide.id).limit(1)).scalar_one()
    before = row_counts(forms_app)

    response = post_form(client, report, pairs)
    assert response.status_code == 400
    assert "Remove the control characters" in page_text(response)

    token = csrf_token(client.get(f"/guides/{guide}").data)
    for name, body in ((bad, GOOD_COMMENT["body"]), ("Sam", bad)):
        response = post_form(client, f"/guides/{guide}/comments", [
            ("display_name", name), ("body", body), ("website", ""), ("csrf_token", token)])
        assert response.status_code == 400
        assert "Remove the control characters" in page_text(response)
    assert row_counts(forms_app) == before


def test_tabs_and_line_breaks_are_still_text(forms_app):
    client = forms_app.test_client()
    with forms_app.app_context():
        guide = db.session.execute(select(Guide.slug).where(
            Guide.status == GuideStatus.PUBLISHED).order_by(Guide.id).limit(1)).scalar_one()
    token = csrf_token(client.get(f"/guides/{guide}").data)
    response = post_form(client, f"/guides/{guide}/comments", [
        ("display_name", "Sam"), ("body", "First line.\r\n\tSecond line."), ("website", ""),
        ("csrf_token", token)])
    assert response.status_code == 201
    with forms_app.app_context():
        stored = db.session.execute(
            select(GuideComment).order_by(GuideComment.id.desc()).limit(1)).scalar_one()
        assert stored.body == "First line.\n\tSecond line."
