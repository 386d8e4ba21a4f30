"""The change log browser: filters, pagination, the before/after table, and no way to edit."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from finder.accounts.models import Role
from finder.changes.models import ChangeEntry
from finder.changes.record import record
from finder.extensions import db
from tests.staff_helpers import csrf_token, logged_in_client, row_counts

CHANGES = "/staff/changes/"


@pytest.fixture
def admin(app):
    client, _ = logged_in_client(app, Role.ADMIN)
    return client


@pytest.fixture
def operator(app):
    client, _ = logged_in_client(app, Role.OPERATOR)
    return client


def _add(app, *, when: datetime, actor="alice@example.org", entity="tracking_number",
         entity_id=1, action="assign", summary="Assigned +15125550142", before=None,
         after=None) -> int:
    with app.app_context():
        entry = record(db.session, actor=actor, entity=entity, entity_id=entity_id,
                       action=action, summary=summary, before=before, after=after)
        entry.created_at = when
        db.session.commit()
        return entry.id


@pytest.fixture
def entries(app) -> dict[str, int]:
    """Four entries on different days, by different people, about different things."""
    return {
        "assign": _add(app, when=datetime(2026, 3, 1, 12, tzinfo=UTC),
                       after={"number": "+15125550142", "facility_id": 7}),
        "move": _add(app, when=datetime(2026, 3, 5, 9, tzinfo=UTC), action="move",
                     actor="bob@example.org", summary="Moved +15125550142 to pool Texas",
                     before={"kind": "facility", "facility_id": 7, "pool_id": None},
                     after={"kind": "helpline", "facility_id": None, "pool_id": 3}),
        "advertiser": _add(app, when=datetime(2026, 3, 10, 23, 59, tzinfo=UTC),
                           entity="advertiser", entity_id=9, action="activate",
                           summary="Activated advertiser Example Recovery",
                           before={"active": False, "hours": {"mon": [["09:00", "17:00"]]}},
                           after={"active": True, "hours": {"mon": [["09:00", "17:00"]]}}),
        "cli": _add(app, when=datetime(2026, 4, 2, tzinfo=UTC), actor="cli:flask import",
                    entity="import", entity_id=None, action="import",
                    summary="Imported 12 facilities"),
    }


def _listed(html: bytes, app=None) -> list[int]:
    """Entry ids linked from a page, newest first (without the test accounts' own entries)."""
    ids = [int(n) for n in re.findall(r'href="/staff/changes/(\d+)"', html.decode())]
    if app is None:
        return ids
    with app.app_context():
        accounts = set(db.session.execute(
            sa.select(ChangeEntry.id).where(ChangeEntry.entity == "user")).scalars())
    return [n for n in ids if n not in accounts]


@pytest.mark.parametrize("query, expected", [
    ("", ["cli", "advertiser", "move", "assign"]),
    ("?entity=tracking_number", ["move", "assign"]),
    ("?action=activate", ["advertiser"]),
    ("?actor=BOB", ["move"]),
    ("?actor=example.org&entity=tracking_number&action=assign", ["assign"]),
    ("?since=2026-03-05", ["cli", "advertiser", "move"]),
    ("?until=2026-03-10", ["advertiser", "move", "assign"]),
    ("?since=2026-03-02&until=2026-03-05", ["move"]),
    ("?q=example+recovery", ["advertiser"]),
    ("?q=%2B15125550142", ["move", "assign"]),
    ("?q=9", ["advertiser"]),  # an id
    ("?entity=advertiser&entity_id=9", ["advertiser"]),
    ("?entity=user", []),
])
def test_filters(app, admin, entries, query, expected):
    response = admin.get(CHANGES + query)
    assert response.status_code == 200
    assert _listed(response.data, app) == [entries[name] for name in expected]


def test_invalid_filters_are_field_errors(app, admin, entries):
    response = admin.get(CHANGES + "?since=yesterday")
    assert response.status_code == 400
    assert 'id="since-error"' in response.data.decode()
    response = admin.get(CHANGES + "?since=2026-03-05&until=2026-03-01")
    assert response.status_code == 400
    assert "before the start date" in response.data.decode()
    assert admin.get(CHANGES + "?until=9999-12-31&page=99999999999").status_code == 200


def test_pagination(app, admin):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [_add(app, when=start + timedelta(minutes=i), entity_id=i) for i in range(55)]
    only = CHANGES + "?entity=tracking_number"
    first = _listed(admin.get(only).data)
    assert first == ids[::-1][:50]
    second = admin.get(only + "&page=2").data
    assert _listed(second) == ids[::-1][50:]
    assert b"Page 2 of 2" in second and b"?page=1&amp;entity=tracking_number" in second
    assert b"55 entries" in admin.get(only).data


def test_entry_detail_shows_before_and_after_as_a_field_table(app, admin, entries):
    page = admin.get(f"{CHANGES}{entries['move']}").data.decode()
    assert "bob@example.org" in page and "Moved +15125550142 to pool Texas" in page
    rows = re.findall(r'<tr( class="changed")?>\s*<th scope="row">(\w+)</th>\s*'
                      r"<td>([^<]*)</td>\s*<td>([^<]*)</td>", page)
    table = {name: (bool(changed), before, after) for changed, name, before, after in rows}
    assert table == {"kind": (True, "facility", "helpline"),
                     "facility_id": (True, "7", ""),
                     "pool_id": (True, "", "3")}
    advertiser = admin.get(f"{CHANGES}{entries['advertiser']}").data.decode()
    assert "/staff/pool/advertisers/9" in advertiser
    assert '{&#34;mon&#34;: [[&#34;09:00&#34;, &#34;17:00&#34;]]}' in advertiser
    assert admin.get(f"{CHANGES}999999").status_code == 404


def test_no_route_edits_or_deletes_entries(app, admin, entries):
    changing = {"POST", "PUT", "PATCH", "DELETE"}
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/staff/changes")]
    assert rules, "the change log has routes"
    assert all(not (rule.methods & changing) for rule in rules)

    token = csrf_token(admin.get(CHANGES).data)
    before = row_counts(app)
    for method in ("post", "put", "patch", "delete"):
        for path in (CHANGES, f"{CHANGES}{entries['move']}"):
            response = getattr(admin, method)(path, data={"csrf_token": token,
                                                          "summary": "rewritten"})
            assert response.status_code == 405, (method, path)
    assert row_counts(app) == before
    with app.app_context():
        assert db.session.get(ChangeEntry, entries["move"]).summary.startswith("Moved")


def test_operators_read_the_log(app, operator, entries):
    assert _listed(operator.get(CHANGES).data)
    assert operator.get(f"{CHANGES}{entries['assign']}").status_code == 200


def test_anonymous_visitors_are_sent_to_log_in(app):
    response = app.test_client().get(CHANGES)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_admin_changes_show_up_in_the_log(app, admin):
    """A change made through a staff form is listed, with its actor, under its filters."""
    page = admin.get("/staff/pool/pools/new")
    response = admin.post("/staff/pool/pools/new", data={
        "csrf_token": csrf_token(page.data), "name": "Logged pool", "max_attempts": "3",
        "repeat_window_days": "30", "min_answer_rate": "0.5"})
    assert response.status_code == 302
    listing = admin.get(CHANGES + "?entity=advertiser_pool&action=create").data.decode()
    assert "Created pool Logged pool" in listing and "admin" in listing
