"""Pools and advertisers in the staff area, through the real forms with CSRF tokens."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from finder.accounts.models import Role
from finder.calls.eligibility import credential_reasons
from finder.calls.models import Advertiser, AdvertiserPool
from finder.calls.snapshots import snapshot
from finder.changes.models import ChangeEntry
from finder.extensions import db
from tests.factories import make_advertiser, make_facility, make_pool
from tests.staff_helpers import csrf_token, logged_in_client, row_counts

#: Today where the test advertisers are (America/Chicago): expiry counts in their own zone, so
#: between midnight UTC and midnight in Chicago the UTC date would be a day off.
TODAY = datetime.now(ZoneInfo("America/Chicago")).date()
LATER = TODAY + timedelta(days=400)
PAST = TODAY - timedelta(days=5)


@pytest.fixture
def admin(app):
    client, _ = logged_in_client(app, Role.ADMIN)
    return client


@pytest.fixture
def operator(app):
    client, _ = logged_in_client(app, Role.OPERATOR)
    return client


@pytest.fixture
def pool_id(app) -> int:
    with app.app_context():
        pool = make_pool(db.session, name="Main pool")
        db.session.commit()
        return pool.id


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""


def advertiser_data(pool_id: int, /, **overrides) -> dict:
    """A complete, valid advertiser form that activates, with ``overrides`` applied."""
    data = {
        "pool_id": str(pool_id), "facility": "", "name": "Example Recovery (fictional)",
        "city": "Austin", "state": "TX", "phone": "(512) 555-0170", "tier": "1", "weight": "2",
        "daily_cap": "10", "monthly_cap": "", "concurrent_cap": "0",
        "timezone": "America/Chicago", "states_served": ["TX", "OK"],
        "license_number": "LIC-1", "license_state": "TX", "license_expires_on": _iso(LATER),
        "accreditation_body": "Example Accreditation Council",
        "accreditation_expires_on": _iso(LATER),
        "certification_id": "CERT-1", "certification_expires_on": _iso(LATER),
        "contract_starts_on": _iso(TODAY - timedelta(days=30)),
        "contract_ends_on": _iso(LATER), "pricing_basis": "per call",
        "consent_to_be_named": "y", "active": "y",
        "mon_start_1": "08:00", "mon_end_1": "12:00", "mon_start_2": "13:00",
        "mon_end_2": "17:00", "fri_start_1": "22:00", "fri_end_1": "06:00",
        "sun_start_1": "00:00", "sun_end_1": "00:00",
    }
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)  # an unticked checkbox is not sent at all
        else:
            data[key] = value
    return data


def _post(client, path: str, data: dict, page: str | None = None):
    token = csrf_token(client.get(page or path).data)
    return client.post(path, data={"csrf_token": token, **data})


def _errors(html: bytes) -> dict[str, str]:
    return dict(re.findall(r'<p class="field-error" id="([\w-]+)-error">([^<]*)</p>',
                           html.decode()))


def _advertisers(app) -> list[Advertiser]:
    with app.app_context():
        rows = db.session.execute(sa.select(Advertiser).order_by(Advertiser.id)).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def _entries(app, entity: str) -> list[ChangeEntry]:
    with app.app_context():
        rows = db.session.execute(sa.select(ChangeEntry).where(ChangeEntry.entity == entity)
                                  .order_by(ChangeEntry.id)).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


# Pools ---------------------------------------------------------------------------------------

def test_create_and_edit_a_pool(app, admin):
    data = {"name": "Texas helpline", "ask_for_zip": "y", "max_attempts": "4",
            "repeat_window_days": "14", "min_answer_rate": "0.4"}
    response = _post(admin, "/staff/pool/pools/new", data)
    assert response.status_code == 302
    with app.app_context():
        pool = db.session.execute(sa.select(AdvertiserPool)).scalar_one()
        assert (pool.name, pool.ask_for_zip, pool.max_attempts, pool.repeat_window_days,
                pool.min_answer_rate) == ("Texas helpline", True, 4, 14, 0.4)
        pool_id = pool.id
    unticked = {k: v for k, v in data.items() if k != "ask_for_zip"}
    response = _post(admin, f"/staff/pool/pools/{pool_id}/edit",
                     {**unticked, "max_attempts": "10"})
    assert response.status_code == 302
    [create, update] = _entries(app, "advertiser_pool")
    assert create.action == "create" and update.action == "update"
    assert (update.before["max_attempts"], update.after["max_attempts"]) == (4, 10)
    assert update.before["ask_for_zip"] is True and update.after["ask_for_zip"] is False
    assert "Texas helpline" in admin.get(f"/staff/pool/pools/{pool_id}").data.decode()


@pytest.mark.parametrize("field, value", [
    ("max_attempts", "0"), ("max_attempts", "11"), ("min_answer_rate", "1.5"),
    ("min_answer_rate", "-0.1"), ("min_answer_rate", "nan"), ("repeat_window_days", "-1"),
    ("name", ""),
])
def test_invalid_pool_settings_are_field_errors(app, admin, field, value):
    before = row_counts(app)
    data = {"name": "P", "max_attempts": "3", "repeat_window_days": "30",
            "min_answer_rate": "0.5", field: value}
    response = _post(admin, "/staff/pool/pools/new", data)
    assert response.status_code == 400
    assert field in _errors(response.data)
    assert row_counts(app) == before


def test_a_pool_name_is_unique(app, admin, pool_id):
    before = row_counts(app)
    response = _post(admin, "/staff/pool/pools/new", {
        "name": "main POOL", "max_attempts": "3", "repeat_window_days": "30",
        "min_answer_rate": "0.5"})
    assert response.status_code == 400
    assert "already exists" in _errors(response.data)["name"]
    assert row_counts(app) == before


# Advertisers ---------------------------------------------------------------------------------

def test_a_valid_advertiser_is_created_active_with_every_routing_field(app, admin, pool_id):
    with app.app_context():
        facility = make_facility(db.session)
        db.session.commit()
        slug, facility_id = facility.slug, facility.id
    response = _post(admin, "/staff/pool/advertisers/new",
                     advertiser_data(pool_id, facility=slug))
    assert response.status_code == 302, _errors(response.data)
    [advertiser] = _advertisers(app)
    assert advertiser.active and advertiser.consent_to_be_named
    assert (advertiser.phone, advertiser.facility_id, advertiser.pool_id) == (
        "+15125550170", facility_id, pool_id)
    assert (advertiser.tier, advertiser.weight, advertiser.daily_cap, advertiser.monthly_cap,
            advertiser.concurrent_cap) == (1, 2, 10, None, 0)
    assert advertiser.hours == {"mon": [["08:00", "12:00"], ["13:00", "17:00"]],
                                "fri": [["22:00", "06:00"]], "sun": [["00:00", "00:00"]]}
    assert advertiser.states_served == ["OK", "TX"]
    assert (advertiser.license_state, advertiser.license_expires_on) == ("TX", LATER)
    # The admin rule is routing's rule: what the form activates, routing accepts.
    assert credential_reasons(snapshot(advertiser), TODAY) == []
    [entry] = _entries(app, "advertiser")
    assert entry.action == "create" and entry.after["active"] is True

    page = admin.get(f"/staff/pool/advertisers/{advertiser.id}").data.decode()
    assert 'value="22:00"' in page and 'value="06:00"' in page
    assert "Example Recovery (fictional)" in admin.get("/staff/pool/").data.decode()


REFUSALS = [
    # (overrides, field that carries the error, words the error must contain)
    ({"license_expires_on": _iso(PAST)}, "license_expires_on", "state license expired"),
    ({"license_number": ""}, "license_number", "state license"),
    ({"license_expires_on": ""}, "license_expires_on", "state license expires"),
    ({"accreditation_expires_on": _iso(PAST)}, "accreditation_expires_on",
     "accreditation expired"),
    ({"accreditation_body": ""}, "accreditation_body", "accreditation"),
    ({"certification_expires_on": _iso(PAST)}, "certification_expires_on",
     "certification expired"),
    ({"certification_id": ""}, "certification_id", "advertising certification"),
    ({"contract_ends_on": _iso(PAST), "contract_starts_on": _iso(PAST - timedelta(days=9))},
     "contract_ends_on", "contract ended"),
    ({"contract_starts_on": _iso(TODAY + timedelta(days=3))}, "contract_starts_on",
     "not current yet"),
    ({"contract_starts_on": ""}, "contract_starts_on", "contract starts"),
    ({"consent_to_be_named": None}, "consent_to_be_named", "consent to be named"),
]


@pytest.mark.parametrize("overrides, field, words", REFUSALS,
                         ids=[r[1] + ":" + next(iter(r[0].values())).__str__()[:10]
                              for r in REFUSALS])
def test_activation_is_refused_and_the_form_says_which(app, admin, pool_id, overrides, field,
                                                       words):
    before = row_counts(app)
    response = _post(admin, "/staff/pool/advertisers/new", advertiser_data(pool_id, **overrides))
    assert response.status_code == 400
    errors = _errors(response.data)
    assert words in errors[field], errors
    assert "Cannot be active" in errors["active"]
    assert row_counts(app) == before


def test_every_reason_is_named_at_once(app, admin, pool_id):
    response = _post(admin, "/staff/pool/advertisers/new", advertiser_data(
        pool_id, license_expires_on=_iso(PAST), accreditation_body="",
        certification_expires_on=_iso(PAST), contract_ends_on=_iso(PAST),
        contract_starts_on=_iso(PAST - timedelta(days=1)), consent_to_be_named=None))
    assert response.status_code == 400
    errors = _errors(response.data)
    for field in ("license_expires_on", "accreditation_body", "certification_expires_on",
                  "contract_ends_on", "consent_to_be_named"):
        assert field in errors, field
    summary = errors["active"]
    for words in ("state license has expired", "accreditation is missing",
                  "advertising certification has expired", "contract is not current",
                  "not consented to be named"):
        assert words in summary


def test_an_inactive_advertiser_may_lack_credentials_and_is_activated_later(app, admin,
                                                                           pool_id):
    data = advertiser_data(pool_id, license_expires_on=_iso(PAST), active=None)
    assert _post(admin, "/staff/pool/advertisers/new", data).status_code == 302
    [advertiser] = _advertisers(app)
    assert not advertiser.active
    path = f"/staff/pool/advertisers/{advertiser.id}"

    refused = _post(admin, path, {**data, "active": "y"})
    assert refused.status_code == 400
    assert "state license expired" in _errors(refused.data)["license_expires_on"]
    assert not _advertisers(app)[0].active

    renewed = _post(admin, path, {**data, "active": "y", "license_expires_on": _iso(LATER)})
    assert renewed.status_code == 302
    assert _advertisers(app)[0].active
    actions = [e.action for e in _entries(app, "advertiser")]
    assert actions == ["create", "activate"]
    activation = _entries(app, "advertiser")[-1]
    assert activation.before["active"] is False and activation.after["active"] is True
    assert activation.before["license_expires_on"] == _iso(PAST)

    # Saving again unchanged records nothing; deactivating always works and is recorded.
    assert _post(admin, path, {**data, "active": "y",
                               "license_expires_on": _iso(LATER)}).status_code == 302
    assert len(_entries(app, "advertiser")) == 2
    assert _post(admin, f"{path}/deactivate", {}, page=path).status_code == 302
    assert not _advertisers(app)[0].active
    assert _entries(app, "advertiser")[-1].action == "deactivate"


def test_an_active_advertiser_whose_license_lapsed_cannot_be_saved_active(app, admin, pool_id):
    with app.app_context():
        pool = db.session.get(AdvertiserPool, pool_id)
        advertiser = make_advertiser(db.session, pool, license_expires_on=PAST)
        db.session.commit()
        advertiser_id = advertiser.id
    path = f"/staff/pool/advertisers/{advertiser_id}"
    response = _post(admin, path, advertiser_data(pool_id, license_expires_on=_iso(PAST),
                                                  weight="5"))
    assert response.status_code == 400
    assert "state license expired" in _errors(response.data)["license_expires_on"]
    assert _advertisers(app)[0].weight == 1
    assert _post(admin, path, advertiser_data(pool_id, license_expires_on=_iso(PAST),
                                              active=None)).status_code == 302
    assert _entries(app, "advertiser")[-1].action == "deactivate"


@pytest.mark.parametrize("overrides, field", [
    ({"phone": "555-12"}, "phone"),
    ({"phone": "+1 512 555 0170 ext 3"}, "phone"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"daily_cap": "-1"}, "daily_cap"),
    ({"monthly_cap": "many"}, "monthly_cap"),
    ({"concurrent_cap": "99999999999999999999"}, "concurrent_cap"),
    ({"tier": "0"}, "tier"),
    ({"weight": ""}, "weight"),
    ({"state": "ZZ"}, "state"),
    ({"states_served": ["TX", "XX"]}, "states_served"),
    ({"license_number": "LIC-1", "license_state": ""}, "license_state"),
    ({"license_expires_on": "31/12/2030"}, "license_expires_on"),
    ({"contract_ends_on": _iso(TODAY - timedelta(days=40))}, "contract_ends_on"),
    ({"pool_id": "999"}, "pool_id"),
    ({"facility": "no-such-facility"}, "facility"),
    ({"name": ""}, "name"),
])
def test_invalid_advertiser_fields_are_field_errors(app, admin, pool_id, overrides, field):
    before = row_counts(app)
    response = _post(admin, "/staff/pool/advertisers/new", advertiser_data(pool_id, **overrides))
    assert response.status_code == 400
    assert field in _errors(response.data)
    assert row_counts(app) == before


@pytest.mark.parametrize("start, end, words", [
    ("09:00", "", "both a start and an end"),
    ("", "17:00", "both a start and an end"),
    ("09:00", "09:00", "00:00 to 00:00"),
    ("9am", "17:00", "Not a valid time"),
])
def test_invalid_hours_are_refused(app, admin, pool_id, start, end, words):
    before = row_counts(app)
    response = _post(admin, "/staff/pool/advertisers/new",
                     advertiser_data(pool_id, tue_start_1=start, tue_end_1=end))
    assert response.status_code == 400
    assert words in response.data.decode()
    assert row_counts(app) == before


def test_the_expiring_list_warns_30_days_ahead(app, admin, pool_id):
    with app.app_context():
        pool = db.session.get(AdvertiserPool, pool_id)
        make_advertiser(db.session, pool, name="Soon Expiring (fictional)",
                        certification_expires_on=TODAY + timedelta(days=10))
        make_advertiser(db.session, pool, name="Later Expiring (fictional)",
                        license_expires_on=TODAY + timedelta(days=60))
        make_advertiser(db.session, pool, name="Contract Ending (fictional)",
                        contract_ends_on=TODAY + timedelta(days=29))
        make_advertiser(db.session, pool, name="Lapsed Active (fictional)",
                        accreditation_expires_on=PAST)
        make_advertiser(db.session, pool, name="Lapsed Inactive (fictional)",
                        accreditation_expires_on=PAST, active=False)
        db.session.commit()
    for path in ("/staff/pool/expiring", "/staff/pool/"):
        page = admin.get(path).data.decode()
        assert "Soon Expiring" in page and "(in 10 days)" in page, path
        assert "Contract Ending" in page
        assert "Lapsed Active" in page and "routing skips this advertiser" in page
        if path == "/staff/pool/expiring":
            assert "Later Expiring" not in page and "Lapsed Inactive" not in page
    home = admin.get("/staff/").data.decode()
    assert 'href="/staff/pool/expiring"' in home


def test_operators_read_the_pool_but_cannot_change_it(app, operator, pool_id):
    with app.app_context():
        advertiser = make_advertiser(db.session, db.session.get(AdvertiserPool, pool_id))
        db.session.commit()
        advertiser_id = advertiser.id
    for path in ("/staff/pool/", "/staff/pool/expiring", f"/staff/pool/pools/{pool_id}",
                 f"/staff/pool/pools/{pool_id}/edit", "/staff/pool/pools/new",
                 "/staff/pool/advertisers/new", f"/staff/pool/advertisers/{advertiser_id}"):
        assert operator.get(path).status_code == 200, path
    token = csrf_token(operator.get("/staff/pool/").data)
    before = row_counts(app)
    for path, data in (
        ("/staff/pool/pools/new", {"name": "X", "max_attempts": "3",
                                   "repeat_window_days": "1", "min_answer_rate": "0.5"}),
        (f"/staff/pool/pools/{pool_id}/edit", {"name": "X", "max_attempts": "3",
                                               "repeat_window_days": "1",
                                               "min_answer_rate": "0.5"}),
        ("/staff/pool/advertisers/new", advertiser_data(pool_id)),
        (f"/staff/pool/advertisers/{advertiser_id}", advertiser_data(pool_id, active=None)),
        (f"/staff/pool/advertisers/{advertiser_id}/deactivate", {}),
    ):
        assert operator.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    assert row_counts(app) == before
    assert _advertisers(app)[0].active
