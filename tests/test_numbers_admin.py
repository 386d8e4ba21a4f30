"""Tracking numbers in the staff area: assign, move, retire, re-activate, through the real forms."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from finder.accounts.models import Role
from finder.calls.models import AdvertiserPool, NumberKind, TrackingNumber
from finder.calls.routing import find_tracking_number
from finder.changes.models import ChangeEntry
from finder.db import now_utc
from finder.extensions import db
from tests.factories import make_facility, make_pool, make_tracking_number
from tests.staff_helpers import csrf_token, logged_in_client, row_counts

# Fictional 555-01XX numbers that phonenumbers accepts as valid.
NUMBER = "+15125550142"
OTHER = "+12135550143"


@pytest.fixture
def admin(app):
    client, _ = logged_in_client(app, Role.ADMIN)
    return client


@pytest.fixture
def operator(app):
    client, _ = logged_in_client(app, Role.OPERATOR)
    return client


def _setup(app, **facility_fields):
    """Two facilities with a phone (plus any overrides of the first) and one pool, as ids/slugs."""
    with app.app_context():
        first = make_facility(db.session, **facility_fields)
        second = make_facility(db.session)
        pool = make_pool(db.session, name="Helpline pool")
        db.session.commit()
        return {"facility": first.slug, "facility_id": first.id, "other": second.slug,
                "other_id": second.id, "pool_id": pool.id}


def _number(app, number: str) -> TrackingNumber | None:
    with app.app_context():
        row = db.session.execute(
            sa.select(TrackingNumber).where(TrackingNumber.number == number)
        ).scalar_one_or_none()
        if row is not None:
            db.session.expunge(row)
        return row


def _entries(app, action: str | None = None) -> list[ChangeEntry]:
    with app.app_context():
        query = sa.select(ChangeEntry).where(ChangeEntry.entity == "tracking_number")
        if action:
            query = query.where(ChangeEntry.action == action)
        rows = db.session.execute(query.order_by(ChangeEntry.id)).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def _assign(client, **fields):
    page = client.get("/staff/numbers/new")
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page.data), "kind": "facility", "facility": "",
            "pool_id": "", "label": "", **fields}
    return client.post("/staff/numbers/new", data=data)


def _field_error(html: bytes, field_id: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>',
                      html.decode())
    assert match, f"no error shown for {field_id}"
    return match.group(1)


def test_assign_a_facility_number_by_slug(app, admin):
    ids = _setup(app)
    response = _assign(admin, number="(512) 555-0142", facility=ids["facility"],
                       label="Print ad")
    assert response.status_code == 302
    row = _number(app, NUMBER)
    assert row.kind == NumberKind.FACILITY
    assert (row.facility_id, row.pool_id, row.label) == (ids["facility_id"], None, "Print ad")
    [entry] = _entries(app, "assign")
    assert entry.entity_id == str(row.id) and entry.after["number"] == NUMBER
    assert entry.before is None and entry.actor.startswith("admin")

    listing = admin.get("/staff/numbers/").data.decode()
    assert "+15125550142" in listing and "own phone" in listing


def test_assign_a_helpline_number_to_a_pool_and_filter_the_list(app, admin):
    ids = _setup(app)
    assert _assign(admin, number=NUMBER, facility=str(ids["facility_id"])).status_code == 302
    response = _assign(admin, number=OTHER, kind="helpline", pool_id=str(ids["pool_id"]))
    assert response.status_code == 302
    row = _number(app, OTHER)
    assert (row.kind, row.pool_id, row.facility_id) == (NumberKind.HELPLINE, ids["pool_id"], None)

    helplines = admin.get("/staff/numbers/?kind=helpline").data.decode()
    assert OTHER in helplines and NUMBER not in helplines
    assert "Pool Helpline pool: 0 of 0 advertisers" in helplines
    facilities = admin.get("/staff/numbers/?kind=facility&status=active").data.decode()
    assert NUMBER in facilities and OTHER not in facilities
    assert "No numbers match" in admin.get("/staff/numbers/?status=retired").data.decode()


@pytest.mark.parametrize("raw", ["555-12", "not a number", "+1 512 555 0142 ext. 4",
                                 "+1 999 555 0142", ""])
def test_an_invalid_number_is_a_field_error_and_changes_nothing(app, admin, raw):
    ids = _setup(app)
    before = row_counts(app)
    response = _assign(admin, number=raw, facility=ids["facility"])
    assert response.status_code == 400
    assert _field_error(response.data, "number")
    assert 'aria-invalid="true"' in response.data.decode()
    assert row_counts(app) == before


def test_a_duplicate_number_is_refused(app, admin):
    ids = _setup(app)
    assert _assign(admin, number=NUMBER, facility=ids["facility"]).status_code == 302
    before = row_counts(app)
    response = _assign(admin, number="512-555-0142", kind="helpline",
                       pool_id=str(ids["pool_id"]))
    assert response.status_code == 400
    assert "already assigned to facility" in _field_error(response.data, "number")
    assert row_counts(app) == before


def test_a_retired_number_is_not_added_again_but_can_be_reactivated(app, admin):
    ids = _setup(app)
    with app.app_context():
        pool = db.session.get(AdvertiserPool, ids["pool_id"])
        row = make_tracking_number(db.session, pool=pool, number=NUMBER, retired_at=now_utc())
        db.session.commit()
        number_id = row.id
    response = _assign(admin, number=NUMBER, facility=ids["facility"])
    assert response.status_code == 400
    assert "re-activate" in _field_error(response.data, "number")
    assert f"/staff/numbers/{number_id}" in response.data.decode()

    page = admin.get(f"/staff/numbers/{number_id}")
    assert b"Re-activate" in page.data
    response = admin.post(f"/staff/numbers/{number_id}/reactivate", data={
        "csrf_token": csrf_token(page.data), "kind": "facility", "facility": ids["facility"],
        "pool_id": ""})
    assert response.status_code == 302
    row = _number(app, NUMBER)
    assert row.retired_at is None and row.kind == NumberKind.FACILITY
    assert (row.facility_id, row.pool_id) == (ids["facility_id"], None)
    [entry] = _entries(app, "reactivate")
    assert entry.before["retired_at"] is not None and entry.after["retired_at"] is None
    with app.app_context():
        assert find_tracking_number(db.session, NUMBER).id == number_id


def test_a_facility_without_a_phone_cannot_get_a_number(app, admin):
    ids = _setup(app, phone=None, intake_phone=None)
    before = row_counts(app)
    response = _assign(admin, number=NUMBER, facility=ids["facility"])
    assert response.status_code == 400
    assert "this number would ring nowhere" in _field_error(response.data, "facility")
    assert row_counts(app) == before


def test_an_intake_phone_alone_is_enough(app, admin):
    ids = _setup(app, phone=None, intake_phone="+14345550150")
    assert _assign(admin, number=NUMBER, facility=ids["facility"]).status_code == 302


def test_an_unknown_facility_or_missing_pool_is_a_field_error(app, admin):
    _setup(app)
    response = _assign(admin, number=NUMBER, facility="no-such-facility")
    assert response.status_code == 400
    assert "No facility" in _field_error(response.data, "facility")
    response = _assign(admin, number=NUMBER, kind="helpline", pool_id="")
    assert response.status_code == 400
    assert "Choose the pool" in _field_error(response.data, "pool_id")
    assert _number(app, NUMBER) is None


def _detail_token(client, number_id: int) -> str:
    page = client.get(f"/staff/numbers/{number_id}")
    assert page.status_code == 200
    return csrf_token(page.data)


def test_move_and_retire_write_change_entries_and_retired_numbers_stop_routing(app, admin):
    ids = _setup(app)
    assert _assign(admin, number=NUMBER, facility=ids["facility"]).status_code == 302
    number_id = _number(app, NUMBER).id

    response = admin.post(f"/staff/numbers/{number_id}/move", data={
        "csrf_token": _detail_token(admin, number_id), "kind": "facility",
        "facility": ids["other"], "pool_id": ""})
    assert response.status_code == 302
    [move] = _entries(app, "move")
    assert move.before["facility_id"] == ids["facility_id"]
    assert move.after["facility_id"] == ids["other_id"]

    response = admin.post(f"/staff/numbers/{number_id}/move", data={
        "csrf_token": _detail_token(admin, number_id), "kind": "helpline", "facility": "",
        "pool_id": str(ids["pool_id"])})
    assert response.status_code == 302
    row = _number(app, NUMBER)
    assert (row.kind, row.facility_id, row.pool_id) == (NumberKind.HELPLINE, None,
                                                       ids["pool_id"])
    with app.app_context():
        assert find_tracking_number(db.session, NUMBER).id == number_id

    response = admin.post(f"/staff/numbers/{number_id}/retire",
                          data={"csrf_token": _detail_token(admin, number_id)})
    assert response.status_code == 302
    [retire] = _entries(app, "retire")
    assert retire.before["retired_at"] is None and retire.after["retired_at"]
    row = _number(app, NUMBER)
    assert row.retired_at is not None  # kept, never deleted
    with app.app_context():
        assert find_tracking_number(db.session, NUMBER) is None
    assert [e.action for e in _entries(app)] == ["assign", "move", "move", "retire"]

    page = admin.get(f"/staff/numbers/{number_id}").data.decode()
    assert "retired on" in page and "Retired +15125550142" in page


def test_moving_to_a_phoneless_facility_is_refused(app, admin):
    ids = _setup(app)
    with app.app_context():
        silent = make_facility(db.session, phone=None)
        db.session.commit()
        silent_slug = silent.slug
    assert _assign(admin, number=NUMBER, facility=ids["facility"]).status_code == 302
    number_id = _number(app, NUMBER).id
    before = row_counts(app)
    response = admin.post(f"/staff/numbers/{number_id}/move", data={
        "csrf_token": _detail_token(admin, number_id), "kind": "facility",
        "facility": silent_slug, "pool_id": ""})
    assert response.status_code == 400
    assert "would ring nowhere" in _field_error(response.data, "facility")
    assert _number(app, NUMBER).facility_id == ids["facility_id"]
    assert row_counts(app) == before


def test_the_facility_picker_finds_and_fills_the_facility(app, admin):
    ids = _setup(app, name1="Blue Ridge Recovery Center")
    page = admin.get("/staff/numbers/new?q=blue+ridge").data.decode()
    assert "Blue Ridge Recovery Center" in page
    assert f"?facility={ids['facility']}" in page
    filled = admin.get(f"/staff/numbers/new?facility={ids['facility']}").data.decode()
    assert f'value="{ids["facility"]}"' in filled
    assert "Blue Ridge Recovery Center" in filled
    assert "No facility matches" in admin.get("/staff/numbers/new?q=zzzz").data.decode()


def test_operators_read_every_page_but_cannot_change_anything(app, admin, operator):
    ids = _setup(app)
    assert _assign(admin, number=NUMBER, facility=ids["facility"]).status_code == 302
    number_id = _number(app, NUMBER).id
    for path in ("/staff/numbers/", f"/staff/numbers/{number_id}", "/staff/numbers/new"):
        assert operator.get(path).status_code == 200, path
    token = csrf_token(operator.get("/staff/numbers/").data)
    before = row_counts(app)
    for path, data in (
        ("/staff/numbers/new", {"number": OTHER, "kind": "facility", "facility": ids["other"]}),
        (f"/staff/numbers/{number_id}/move", {"kind": "facility", "facility": ids["other"]}),
        (f"/staff/numbers/{number_id}/retire", {}),
        (f"/staff/numbers/{number_id}/reactivate", {"kind": "facility",
                                                    "facility": ids["other"]}),
    ):
        assert operator.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    assert row_counts(app) == before
    assert _number(app, NUMBER).retired_at is None


def test_anonymous_visitors_are_sent_to_log_in(app):
    response = app.test_client().get("/staff/numbers/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
