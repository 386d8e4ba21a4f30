"""Imports (``flask import ...`` and the staff upload form) of the shared real files and of
bad rows, on SQLite and PostgreSQL: dry runs change nothing, real runs never duplicate."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
import sqlalchemy as sa
from werkzeug.test import EnvironBuilder

import finder
from finder.changes.models import ChangeEntry
from finder.directory.models import Facility, FacilityStatus
from finder.extensions import db
from finder.seeding.facilities import SUBSTANCE_USE_SOURCE
from finder.seeding.normalize import facility_key, source_key
from finder.seeding.taxonomy import sync_taxonomy
from finder.transfer.imports import run_import
from tests.staff_helpers import csrf_token, logged_in_client, row_counts

SEEDS = finder.ROOT / "seeds"
SUBSTANCE_USE_CSV = SEEDS / "SubstanceUseTreatment_Geocoded.csv"
API_SAMPLE = SEEDS / "findtreatment_api_sample_2019.json"
MENTAL_HEALTH_CSV = SEEDS / "MentalHealthProviders_Geocoded.csv"
#: As in seeding: 14,034 rows, 268 repeating another row's name, street and ZIP.
ROWS, REPEATS = 14_034, 268
#: The 2019 sample: 30 rows, 14 substance-use listings, 16 mental-health ones.
API_FACILITIES, API_MENTAL_HEALTH = 14, 16
HEADER = "name1,name2,street1,street2,city,state,zip,zip4,county,latitude,longitude,phone\n"


def load_taxonomy(app) -> None:
    with app.app_context():
        sync_taxonomy(db.session, SEEDS)
        db.session.commit()


def facility_count(app) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(Facility)).scalar_one()


def import_entries(app) -> list[ChangeEntry]:
    with app.app_context():
        return list(db.session.execute(
            sa.select(ChangeEntry).where(ChangeEntry.entity == "import").order_by(ChangeEntry.id)
        ).scalars())


def invoke(app, *args: str):
    return app.test_cli_runner().invoke(args=["import", *args])


@pytest.fixture
def taxonomy_app(app):
    """The empty migrated directory with just the taxonomy loaded."""
    load_taxonomy(app)
    return app


def test_substance_use_csv_into_an_empty_directory_then_again(taxonomy_app):
    app = taxonomy_app
    result = invoke(app, "samhsa-csv", str(SUBSTANCE_USE_CSV))
    assert result.exit_code == 0, result.output
    assert (f"14,034 rows; 13,766 created, 0 updated, 0 unchanged, {REPEATS} skipped, "
            "0 failed.") in result.output
    assert "repeats row 67 (same name, street and ZIP)" in result.output
    assert facility_count(app) == ROWS - REPEATS

    with app.app_context():
        (florence,) = db.session.execute(sa.select(Facility).where(
            Facility.name1 == "A New Beginning", Facility.street1 == "122 Helton Court"
        )).scalars()
        # The seeder's natural key, so a seeded directory finds its facilities.
        assert florence.source_key == source_key(
            facility_key("A New Beginning", "122 Helton Court", "35630")
        )
        assert (florence.zip, florence.zip4, florence.status) == ("35630", "1465", "active")
        connecticut = db.session.execute(
            sa.select(Facility.zip).where(Facility.state == "CT")
        ).scalars().all()
        assert connecticut and all(len(z) == 5 and z.startswith("0") for z in connecticut)

    (entry,) = import_entries(app)
    assert entry.action == "import" and entry.user_id is None
    assert entry.actor == f"cli:flask import samhsa-csv {SUBSTANCE_USE_CSV}"
    assert entry.after["file"] == SUBSTANCE_USE_CSV.name
    assert (entry.after["created"], entry.after["skipped"], entry.after["failed"]) == (
        13_766, REPEATS, 0
    )
    assert "13,766 created" in entry.summary

    again = invoke(app, "samhsa-csv", str(SUBSTANCE_USE_CSV))
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 13,766 unchanged, 268 skipped, 0 failed." in again.output
    assert facility_count(app) == ROWS - REPEATS
    assert [e.after["unchanged"] for e in import_entries(app)] == [0, 13_766]


def test_dry_run_changes_nothing(taxonomy_app):
    app = taxonomy_app
    before = row_counts(app)
    for kind, path in (("samhsa-csv", SUBSTANCE_USE_CSV), ("findtreatment", API_SAMPLE)):
        result = invoke(app, kind, str(path), "--dry-run")
        assert result.exit_code == 0, result.output
        assert "Dry run: nothing was changed." in result.output
    assert "13,766 created" in invoke(app, "samhsa-csv", str(SUBSTANCE_USE_CSV),
                                      "--dry-run").output
    after = row_counts(app)
    assert after == before
    assert after["facility"] == 0 and after["change_log"] == before["change_log"]


def test_api_sample_maps_labels_and_reports_the_unmapped(taxonomy_app):
    app = taxonomy_app
    result = invoke(app, "findtreatment", str(API_SAMPLE))
    assert result.exit_code == 0, result.output
    assert (f"30 rows; {API_FACILITIES} created, 0 updated, 0 unchanged, "
            f"{API_MENTAL_HEALTH} skipped, 0 failed.") in result.output
    assert "row 2: Dual Recovery Center: mental-health listing (typeFacility MH)" in result.output
    # Labels with no code are listed with the rows that carry them.
    assert "TAP 'Dialectical behavior therapy': rows 4, 14, 16, 18, 19, 22, 24, 30" in (
        result.output
    )
    assert "OL 'German': rows 19" in result.output
    with app.app_context():
        (mohr,) = db.session.execute(sa.select(Facility).where(
            Facility.name1 == "Region Ten Community Services Board",
            Facility.street1 == "1014 East Market Street",
        )).scalars()
        codes = {s.code for s in mohr.services}
        assert {"SA", "RES", "RS", "SS", "MN", "MALE", "MD", "PI", "SF", "MOA"} <= codes
        assert "OTP" not in codes
        assert (mohr.phone, mohr.intake_phone) == ("+14349798871", "+14349721800")
        assert mohr.website == "http://www.regionten.org"
        assert db.session.execute(sa.select(Facility).where(
            Facility.name1 == "UVA Child/Adolescent Psychiatry Clinic"
        )).first() is None
    (entry,) = import_entries(app)
    assert entry.after["unmapped_labels"] > 0 and entry.after["skipped"] == API_MENTAL_HEALTH

    again = invoke(app, "findtreatment", str(API_SAMPLE))
    assert f"0 created, 0 updated, {API_FACILITIES} unchanged" in again.output
    assert facility_count(app) == API_FACILITIES


def test_shared_files_into_the_seeded_directory_update_never_duplicate(seeded_app):
    total = facility_count(seeded_app)
    csv_result = invoke(seeded_app, "samhsa-csv", str(SUBSTANCE_USE_CSV))
    assert "0 created, 0 updated, 13,766 unchanged, 268 skipped, 0 failed." in csv_result.output
    with seeded_app.app_context():
        mohr_before = db.session.execute(sa.select(Facility).where(
            Facility.name1 == "Region Ten Community Services Board",
            Facility.street1 == "1014 East Market Street",
        )).scalar_one()
        county, zip4 = mohr_before.county, mohr_before.zip4
    api_result = invoke(seeded_app, "findtreatment", str(API_SAMPLE))
    assert api_result.exit_code == 0 and "; 0 created," in api_result.output
    with seeded_app.app_context():
        mohr = db.session.get(Facility, mohr_before.id)
        # The API has no county or ZIP+4: importing it leaves them as they were.
        assert county and (mohr.county, mohr.zip4) == (county, zip4)
    mental_health = invoke(seeded_app, "samhsa-csv", str(MENTAL_HEALTH_CSV), "--dry-run")
    assert mental_health.exit_code == 0 and "; 0 created," in mental_health.output
    assert "invalid phone '841-294-5306 x300'" in mental_health.output
    assert facility_count(seeded_app) == total
    with seeded_app.app_context():
        sources = set(db.session.execute(sa.select(Facility.data_source).where(
            Facility.name1 == "A New Beginning"
        )).scalars())
        assert sources == {SUBSTANCE_USE_SOURCE}  # unchanged rows keep where they came from


BAD_CSV = (
    HEADER
    + "Good Place,,1 Main Street,,Hartford,CT,6103,,Hartford,41.76,-72.67,860-555-0100\n"  # 2
    + ",,2 Main Street,,Hartford,CT,06103,,,41.76,-72.67,\n"  # 3: no name
    + "No Town,,3 Main Street,,,CT,06103,,,41.76,-72.67,\n"  # 4
    + "Bad State,,4 Main Street,,Hartford,ZZ,06103,,,41.76,-72.67,\n"  # 5
    + "Never Geocoded,,5 Main Street,,Hartford,CT,06103,,,0,0,\n"  # 6
    + "Wordy,,6 Main Street,,Hartford,CT,06103,,,north,-72.67,\n"  # 7
    + "Far East,,7 Main Street,,Hartford,CT,06103,,,41.76,200,\n"  # 8
    + "Bad Phone,,8 Main Street,,Hartford,CT,06103,,,41.76,-72.67,123\n"  # 9
    + "GOOD PLACE,,1 Main  Street,,Hartford,CT,06103,,,41.7601,-72.67,\n"  # 10: repeats 2
    + "Cl\u00ednica Pe\u00f1uelas,,9 Calle Sol,,Ponce,PR,731,,,18.01,-66.61,787-555-0101\n"  # 11
)


def test_bad_rows_are_reported_with_row_numbers_and_the_rest_imported(taxonomy_app, tmp_path):
    app = taxonomy_app
    path = tmp_path / "facilities.csv"
    path.write_bytes(BAD_CSV.encode("latin-1"))  # not UTF-8: read as Latin-1
    result = invoke(app, "samhsa-csv", str(path))
    assert result.exit_code == 0, result.output
    assert "10 rows; 2 created, 0 updated, 0 unchanged, 1 skipped, 7 failed." in result.output
    assert "it was read as Latin-1" in result.output
    for expected in (
        "row 3: (no name): missing name (name1)",
        "row 4: No Town: missing city",
        "row 5: Bad State: invalid state 'ZZ'",
        "row 6: Never Geocoded: coordinates 0,0 (the address was never geocoded)",
        "row 7: Wordy: latitude 'north' is not a number",
        "row 8: Far East: longitude 200 is out of range (-180 to 180)",
        "row 9: Bad Phone: invalid phone '123'",
        "row 10: GOOD PLACE: repeats row 2 (same name, street and ZIP)",
    ):
        assert expected in result.output
    with app.app_context():
        places = {f.name1: f for f in db.session.execute(sa.select(Facility)).scalars()}
        assert set(places) == {"Good Place", "Cl\u00ednica Pe\u00f1uelas"}
        assert places["Good Place"].zip == "06103"
        assert places["Good Place"].phone == "+18605550100"
        assert places["Cl\u00ednica Pe\u00f1uelas"].zip == "00731"


def test_verified_facilities_are_left_alone_and_files_without_phones_keep_them(
    taxonomy_app, tmp_path
):
    app = taxonomy_app
    path = tmp_path / "two.csv"
    path.write_text(
        HEADER
        + "First,,1 Elm Street,,Austin,TX,78701,,,30.27,-97.74,\n"
        + "Second,,2 Elm Street,,Austin,TX,78701,,,30.28,-97.74,512-555-0102\n",
        encoding="utf-8",
    )
    assert "2 created" in invoke(app, "samhsa-csv", str(path)).output
    with app.app_context():
        first, second = db.session.execute(
            sa.select(Facility).order_by(Facility.name1)
        ).scalars()
        first.city, first.last_verified_on = "Verified City", date(2025, 1, 2)
        second.county = "Old county"
        second.status = FacilityStatus.CLOSED
        db.session.commit()
    path.write_text(
        HEADER
        + "First,,1 Elm Street,,Austin,TX,78701,,,30.27,-97.74,\n"
        + "Second,,2 Elm Street,,Austin,TX,78701,,Travis,30.28,-97.74,\n",
        encoding="utf-8",
    )
    result = invoke(app, "samhsa-csv", str(path))
    assert "0 created, 1 updated, 0 unchanged, 1 skipped" in result.output
    assert "row 2: First: verified by an admin on 2025-01-02: left as it is" in result.output
    with app.app_context():
        first, second = db.session.execute(
            sa.select(Facility).order_by(Facility.name1)
        ).scalars()
        assert first.city == "Verified City"
        assert second.county == "Travis"
        assert second.phone == "+15125550102"  # a file without a phone does not erase one
        assert second.status == FacilityStatus.CLOSED  # an import never reopens a listing


def test_unreadable_files_exit_1_and_change_nothing(taxonomy_app, tmp_path):
    app = taxonomy_app
    before = row_counts(app)
    not_json = tmp_path / "page.json"
    not_json.write_text("<html>", encoding="utf-8")
    other_csv = tmp_path / "other.csv"
    other_csv.write_text("ID,ADDRESS,CITY\nX,1 Main,Y\n", encoding="utf-8")
    no_rows = tmp_path / "empty.json"
    no_rows.write_text(json.dumps({"page": 1}), encoding="utf-8")
    for kind, path, message in (
        ("findtreatment", not_json, "This is not JSON"),
        ("findtreatment", no_rows, "it has no rows[] list"),
        ("samhsa-csv", other_csv, "it has no name1, state, zip, latitude, longitude columns"),
        ("samhsa-csv", tmp_path / "missing.csv", "no such file"),
        ("hsds", not_json, "This is not JSON"),
    ):
        result = invoke(app, kind, str(path))
        assert result.exit_code == 1, (kind, result.output)
        assert message in result.output
    assert row_counts(app) == before


def test_api_rows_that_are_not_facilities_fail_one_by_one(taxonomy_app, tmp_path):
    page = json.loads(API_SAMPLE.read_text(encoding="utf-8"))
    rows = page["rows"][:1] + ["not a row", dict(page["rows"][0], latitude="abc"),
                               dict(page["rows"][0], services="none")]
    path = tmp_path / "page.json"
    path.write_text(json.dumps({"rows": rows}), encoding="utf-8")
    result = invoke(taxonomy_app, "findtreatment", str(path))
    assert result.exit_code == 0, result.output
    assert "4 rows; 1 created, 0 updated, 0 unchanged, 0 skipped, 3 failed." in result.output
    assert "row 2: (no name): the row is not a JSON object" in result.output
    assert "row 3: Region Ten Community Services Board: latitude 'abc' is not a number" in (
        result.output
    )
    assert "row 4: Region Ten Community Services Board: services is not a list" in result.output


def test_run_import_is_callable_without_a_request(taxonomy_app):
    with taxonomy_app.app_context():
        report = run_import(db.session, "findtreatment", API_SAMPLE.read_bytes(), "page.json",
                            dry_run=True, actor="test")
        db.session.rollback()
    assert (report.created, len(report.skipped), len(report.failed)) == (14, 16, 0)
    assert ("OL", "German") in report.unmapped


# The staff upload form


def upload(client, kind: str, name: str, data: bytes, *, dry_run: bool, token: str | None):
    form = {"kind": kind, "file": (io.BytesIO(data), name)}
    if dry_run:
        form["dry_run"] = "y"
    if token is not None:
        form["csrf_token"] = token
    # The test client spools a large body to a temporary file that closing the response does
    # not close (it closes a stream wrapping it): build the body here and close it.
    builder = EnvironBuilder(path="/staff/transfer/import", method="POST", data=form)
    environ = builder.get_environ()
    try:
        response = client.open(environ)
        response.get_data()
    finally:
        environ["wsgi.input"].close()
        builder.close()
    return response


def test_upload_dry_run_then_real_import(taxonomy_app):
    app = taxonomy_app
    client, email = logged_in_client(app, "admin")
    page = client.get("/staff/transfer/")
    assert page.status_code == 200 and b'enctype="multipart/form-data"' in page.data
    before = row_counts(app)

    # The national CSV (1.6 MB) is larger than MAX_CONTENT_LENGTH; this form takes it.
    assert SUBSTANCE_USE_CSV.stat().st_size > app.config["MAX_CONTENT_LENGTH"]
    dry = upload(client, "samhsa-csv", "national.csv", SUBSTANCE_USE_CSV.read_bytes(),
                 dry_run=True, token=csrf_token(page.data))
    assert dry.status_code == 200, dry.data[:500]
    assert b"Dry run report" in dry.data and b"13,766 created" in dry.data
    assert b"repeats row 67 (same name, street and ZIP)" in dry.data
    assert row_counts(app) == before

    real = upload(client, "findtreatment", "page.json", API_SAMPLE.read_bytes(), dry_run=False,
                  token=csrf_token(dry.data))
    assert real.status_code == 200
    assert b"14 created" in real.data and b"Dialectical behavior therapy" in real.data
    assert facility_count(app) == API_FACILITIES
    (entry,) = import_entries(app)
    assert entry.actor == email and entry.user_id is not None
    assert entry.after["file"] == "page.json" and entry.after["created"] == API_FACILITIES


def test_upload_refuses_bad_forms_and_changes_nothing(taxonomy_app):
    app = taxonomy_app
    client, _ = logged_in_client(app, "admin")
    token = csrf_token(client.get("/staff/transfer/").data)
    before = row_counts(app)
    data = API_SAMPLE.read_bytes()

    no_token = upload(client, "findtreatment", "page.json", data, dry_run=False, token=None)
    assert no_token.status_code == 400
    no_file = client.post("/staff/transfer/import", data={"csrf_token": token,
                                                          "kind": "findtreatment"})
    assert no_file.status_code == 400 and b"Choose a file to import." in no_file.data
    wrong_kind = upload(client, "samhsa-csv", "page.json", data, dry_run=False, token=token)
    assert wrong_kind.status_code == 400
    assert b"This is not the SAMHSA locator CSV layout" in wrong_kind.data
    bad_choice = upload(client, "excel", "page.json", data, dry_run=False, token=token)
    assert bad_choice.status_code == 400
    assert row_counts(app) == before

    app.config["IMPORT_MAX_BYTES"] = 10_000
    too_big = upload(client, "findtreatment", "page.json", data, dry_run=False, token=token)
    assert too_big.status_code == 413
    assert row_counts(app) == before


def test_operators_and_visitors_cannot_import(taxonomy_app):
    app = taxonomy_app
    operator, _ = logged_in_client(app, "operator")
    page = operator.get("/staff/transfer/")
    assert page.status_code == 200 and b"Only admins can import files." in page.data
    refused = upload(operator, "findtreatment", "page.json", API_SAMPLE.read_bytes(),
                     dry_run=False, token=csrf_token(page.data))
    assert refused.status_code == 403
    # A visitor's POST fails the CSRF check before anything else (400); with a token from a
    # public page it reaches the role check and is sent to log in.
    visitor = app.test_client()
    assert visitor.post("/staff/transfer/import").status_code == 400
    token = csrf_token(visitor.get("/login").data)
    sent = visitor.post("/staff/transfer/import", data={"csrf_token": token})
    assert sent.status_code == 302 and "/login" in sent.headers["Location"]
    assert facility_count(app) == 0
