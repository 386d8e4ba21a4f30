"""Arbitrary text in the most important staff forms and every staff page, as a logged-in admin.

The listing form (create and edit), the tracking-number form and the advertiser form get valid
submissions with one or two fields spoiled; every staff page gets arbitrary query arguments.
Never a 500; refused input is a field error (or the CSRF refusal) and changes no row; accepted
input is stored as typed, with no control characters.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from finder.accounts.models import Role
from finder.calls.models import Advertiser, AdvertiserPool, TrackingNumber
from finder.directory.models import Facility
from finder.extensions import db
from finder.typed_text import has_control_characters
from tests.conftest import dispose, make_app
from tests.nasty_input import (
    as_received,
    clearly_refused,
    fuzz_settings,
    page_text,
    post_form,
    query_string,
    row_counts,
    table_rows,
    wire_value,
    with_mutations,
)
from tests.staff_helpers import csrf_token, logged_in_client

LATER = (date.today() + timedelta(days=400)).isoformat()
EARLIER = (date.today() - timedelta(days=30)).isoformat()
FACILITY = {
    "name1": "Blue Ridge Recovery Example (fictional)", "name2": "Second name",
    "street1": "100 Example Street", "street2": "Suite 5", "city": "Charlottesville",
    "state": "VA", "zip": "22902", "phone": "(434) 555-0142 x301", "intake_phone": "434.555.0143",
    "website": "example.org/recovery", "notes": "Staff note.", "latitude": "", "longitude": "",
}
NUMBER = {"number": "(512) 555-0142", "label": "Fuzz label", "kind": "facility",
          "facility": "", "pool_id": ""}
ADVERTISER = {
    "pool_id": "", "facility": "", "name": "Example Recovery (fictional)", "city": "Austin",
    "state": "TX", "phone": "(512) 555-0170", "tier": "1", "weight": "2", "daily_cap": "10",
    "monthly_cap": "", "concurrent_cap": "0", "timezone": "America/Chicago",
    "states_served": "TX", "license_number": "LIC-1", "license_state": "TX",
    "license_expires_on": LATER, "accreditation_body": "Example Accreditation Council",
    "accreditation_expires_on": LATER, "certification_id": "CERT-1",
    "certification_expires_on": LATER, "contract_starts_on": EARLIER, "contract_ends_on": LATER,
    "pricing_basis": "per call", "consent_to_be_named": "y", "active": "y",
    "mon_start_1": "08:00", "mon_end_1": "12:00", "fri_start_1": "22:00", "fri_end_1": "06:00",
}
GUIDE = {"title": "Cannabis", "slug": "cannabis-fuzz", "summary": "What cannabis is.",
         "body": "## What it is\n\nA plant.\n", "status": "draft", "last_reviewed_on": "",
         "related_services": "dt, sa"}
WHAT_IF = {"number": "+18005550199", "state": "TX", "zip": "78701", "at": "2026-11-21T22:00",
           "zone": "America/Chicago"}
#: Staff pages and the query arguments any of them reads.
STAFF_PAGES = ["/staff/", "/staff/facilities/", "/staff/numbers/", "/staff/numbers/new",
               "/staff/pool/", "/staff/pool/expiring", "/staff/pool/advertisers/new",
               "/staff/reports/", "/staff/guides/", "/staff/guides/comments",
               "/staff/changes/", "/staff/calls/", "/staff/calls/reports",
               "/staff/calls/what-if", "/staff/calls/integrity", "/staff/transfer/"]
ARG_NAMES = ["q", "state", "status", "page", "kind", "pool", "facility", "since", "until",
             "number", "destination", "outcome", "entity", "action", "actor", "entity_id",
             "zip", "at", "zone"]


@pytest.fixture(scope="module")
def staff_app(databases, national_template):
    """A private copy of the national data (with the demo pool and its advertisers)."""
    app = make_app(databases.new(template=national_template), LOGIN_RATE_LIMIT="10000 per hour")
    yield app
    dispose(app)


@pytest.fixture(scope="module")
def admin(staff_app):
    client, _ = logged_in_client(staff_app, Role.ADMIN)
    return client


def _first_id(app, model) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.min(model.id))).scalar_one()


def _row(app, model, row_id: int) -> tuple:
    with app.app_context():
        table = model.__table__
        return tuple(db.session.execute(sa.select(table).where(table.c.id == row_id)).one())


def _submit(client, path: str, values: dict[str, bytes], csrf: str, forged: bytes):
    pairs = list(values.items())
    if csrf == "valid":
        pairs.append(("csrf_token", csrf_token(client.get(path).data).encode()))
    elif csrf == "forged":
        pairs.append(("csrf_token", forged))
    return post_form(client, path, pairs)


#: Mostly a valid token, so the fields themselves get tested.
csrf_choice = st.sampled_from(["valid"] * 6 + ["missing", "forged"])


def _assert_refused_or_saved(response, outcomes: Counter, before, after) -> bool:
    """True when saved (a redirect); a refusal must say why and change nothing."""
    assert response.status_code in (302, 303, 400), (response.status_code,
                                                     page_text(response)[:300])
    if response.status_code == 400:
        assert clearly_refused(response), page_text(response)[:500]
        assert after == before
        outcomes["refused"] += 1
        return False
    outcomes["saved"] += 1
    return True


def test_the_listing_form_refuses_bad_text_and_keeps_what_it_saves(staff_app, admin):
    outcomes = Counter()

    @fuzz_settings(70)
    @given(values=with_mutations(FACILITY), csrf=csrf_choice, forged=wire_value,
           by_hand=st.booleans())
    def run(values, csrf, forged, by_hand):
        if by_hand:
            values = {**values, "placed_by_hand": b"y"}
        before = row_counts(staff_app)
        response = _submit(admin, "/staff/facilities/new", values, csrf, forged)
        if not _assert_refused_or_saved(response, outcomes, before, row_counts(staff_app)):
            return
        new_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
        with staff_app.app_context():
            saved = db.session.get(Facility, new_id)
            assert saved.name1 == as_received(values["name1"]).strip()
            assert saved.city == as_received(values["city"]).strip()
            texts = [saved.name1, saved.name2, saved.street1, saved.street2, saved.city,
                     saved.notes, saved.website, saved.phone, saved.intake_phone]
            assert not has_control_characters(texts), texts

    run()
    assert outcomes["refused"] and outcomes["saved"], outcomes


def test_editing_a_listing_with_bad_text_changes_nothing(staff_app, admin):
    facility_id = _first_id(staff_app, Facility)
    path = f"/staff/facilities/{facility_id}"
    outcomes = Counter()

    @fuzz_settings(70)
    @given(values=with_mutations(FACILITY), csrf=csrf_choice, forged=wire_value)
    def run(values, csrf, forged):
        before = (row_counts(staff_app), _row(staff_app, Facility, facility_id))
        response = _submit(admin, path, values, csrf, forged)
        after = (row_counts(staff_app), _row(staff_app, Facility, facility_id))
        if _assert_refused_or_saved(response, outcomes, before, after):
            with staff_app.app_context():
                saved = db.session.get(Facility, facility_id)
                assert saved.name1 == as_received(values["name1"]).strip()
                assert not has_control_characters([saved.name1, saved.street1, saved.city,
                                                   saved.notes, saved.website])

    run()
    assert outcomes["refused"] and outcomes["saved"], outcomes


def test_the_tracking_number_form_refuses_bad_text(staff_app, admin):
    with staff_app.app_context():
        slug = db.session.execute(sa.select(Facility.slug).where(Facility.phone.is_not(None))
                                  .order_by(Facility.id).limit(1)).scalar_one()
        pool_id = db.session.execute(sa.select(sa.func.min(AdvertiserPool.id))).scalar_one()
    good = {**NUMBER, "facility": slug, "pool_id": str(pool_id)}
    serial = iter(range(100, 10_000))
    outcomes = Counter()

    @fuzz_settings(70)
    @given(values=with_mutations(good), csrf=csrf_choice, forged=wire_value)
    def run(values, csrf, forged):
        if values["number"] == good["number"].encode():
            # A fresh fictional 555-01XX number each time, so a valid form can be saved.
            values = {**values, "number": f"(512) 555-01{next(serial) % 100:02d}".encode()}
        before = (row_counts(staff_app), table_rows(staff_app, ("tracking_number",)))
        response = _submit(admin, "/staff/numbers/new", values, csrf, forged)
        after = (row_counts(staff_app), table_rows(staff_app, ("tracking_number",)))
        if _assert_refused_or_saved(response, outcomes, before, after):
            with staff_app.app_context():
                saved = db.session.execute(sa.select(TrackingNumber).order_by(
                    TrackingNumber.id.desc()).limit(1)).scalar_one()
                assert re.fullmatch(r"\+1\d{10}", saved.number)
                assert not has_control_characters(saved.label)

    run()
    assert outcomes["refused"] and outcomes["saved"], outcomes


def test_the_advertiser_form_refuses_bad_text(staff_app, admin):
    with staff_app.app_context():
        advertiser_id = db.session.execute(sa.select(sa.func.min(Advertiser.id))).scalar_one()
        pool_id = db.session.get(Advertiser, advertiser_id).pool_id
    path = f"/staff/pool/advertisers/{advertiser_id}"
    good = {**ADVERTISER, "pool_id": str(pool_id)}
    outcomes = Counter()

    @fuzz_settings(60)
    @given(values=with_mutations(good), csrf=csrf_choice, forged=wire_value)
    def run(values, csrf, forged):
        before = (row_counts(staff_app), _row(staff_app, Advertiser, advertiser_id))
        response = _submit(admin, path, values, csrf, forged)
        after = (row_counts(staff_app), _row(staff_app, Advertiser, advertiser_id))
        if _assert_refused_or_saved(response, outcomes, before, after):
            with staff_app.app_context():
                saved = db.session.get(Advertiser, advertiser_id)
                assert saved.name == as_received(values["name"]).strip()
                assert not has_control_characters([
                    saved.name, saved.city, saved.license_number, saved.accreditation_body,
                    saved.certification_id, saved.pricing_basis, saved.timezone])

    run()
    assert outcomes["refused"] and outcomes["saved"], outcomes


@pytest.mark.parametrize("page", STAFF_PAGES)
def test_every_staff_page_answers_any_query_arguments(staff_app, admin, page):
    before = row_counts(staff_app)

    @fuzz_settings(25)
    @given(pairs=st.lists(st.tuples(st.sampled_from(ARG_NAMES), wire_value), max_size=4))
    def run(pairs):
        response = admin.get(page + "?" + query_string(pairs))
        assert response.status_code in (200, 400), (pairs, response.status_code)
        if response.status_code == 400:
            assert clearly_refused(response), (pairs, page_text(response)[:300])

    run()
    assert row_counts(staff_app) == before


def test_the_what_if_page_answers_any_question(staff_app, admin):
    """The routing simulation behind it gets a real number, state, ZIP, time and zone, one or
    two of them spoiled; it reads and never writes."""
    before = row_counts(staff_app)
    outcomes = Counter()

    @fuzz_settings(60)
    @given(values=with_mutations(WHAT_IF))
    def run(values):
        response = admin.get("/staff/calls/what-if?" + query_string(values.items()))
        assert response.status_code in (200, 400), (values, response.status_code)
        if response.status_code == 400:
            assert clearly_refused(response), (values, page_text(response)[:300])
        outcomes[response.status_code] += 1

    run()
    assert outcomes[200] and outcomes[400], outcomes
    assert row_counts(staff_app) == before


@pytest.mark.parametrize("zone", ["", " ", "\t"])
def test_a_blank_time_zone_in_the_what_if_question_is_utc(admin, zone):
    """It used to reach ZoneInfo("") (a ValueError, so a 500)."""
    response = admin.get("/staff/calls/what-if?" + query_string(
        [*WHAT_IF.items(), ("zone", zone)]))
    assert response.status_code == 200, page_text(response)[:300]


@pytest.mark.parametrize("page", STAFF_PAGES)
@pytest.mark.parametrize("value", ["\x00", "a\x00b", "1\x00"])
def test_a_nul_in_any_staff_query_argument_is_not_a_server_error(staff_app, admin, page, value):
    """PostgreSQL refuses NUL in a query: each page must answer before a query carries one."""
    response = admin.get(page + "?" + query_string([(name, value) for name in ARG_NAMES]))
    assert response.status_code in (200, 400), response.status_code


@pytest.mark.parametrize(("form", "field"), [
    ("listing", "name1"), ("listing", "notes"), ("listing", "city"),
    ("number", "label"), ("number", "facility"),
    ("advertiser", "accreditation_body"), ("advertiser", "name"), ("advertiser", "timezone"),
    ("guide", "body"), ("guide", "title"),
])
def test_a_nul_in_a_staff_form_is_a_field_error_and_changes_nothing(staff_app, admin, form,
                                                                    field):
    """These used to be stored on SQLite and to fail the write (a 500) on PostgreSQL."""
    with staff_app.app_context():
        slug = db.session.execute(sa.select(Facility.slug).order_by(Facility.id)).scalar()
        advertiser = db.session.execute(sa.select(Advertiser).order_by(Advertiser.id)).scalar()
        path, good = {
            "listing": ("/staff/facilities/new", FACILITY),
            "number": ("/staff/numbers/new", {**NUMBER, "facility": slug}),
            "advertiser": (f"/staff/pool/advertisers/{advertiser.id}",
                           {**ADVERTISER, "pool_id": str(advertiser.pool_id)}),
            "guide": ("/staff/guides/new", GUIDE),
        }[form]
    values = {name: value.encode() for name, value in good.items()}
    values[field] = b"Example\x00 text"
    tables = ("advertiser", "tracking_number", "guide")
    before = (row_counts(staff_app), table_rows(staff_app, tables))
    response = _submit(admin, path, values, "valid", b"")
    assert response.status_code == 400
    assert "Remove the control characters" in page_text(response)
    assert (row_counts(staff_app), table_rows(staff_app, tables)) == before
