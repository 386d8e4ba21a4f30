"""Exports: the directory CSV and Open Referral HSDS (zip of CSVs with a datapackage.json, and
JSON), from the command line and the staff download links; nothing private leaves."""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from datetime import date

import sqlalchemy as sa

import finder
from finder.directory.models import Facility, FacilityStatus
from finder.extensions import db
from finder.seeding.taxonomy import sync_taxonomy
from finder.transfer.exports import CSV_COLUMNS
from finder.transfer.hsds import TABLES
from finder.transfer.imports import run_import
from tests.staff_helpers import logged_in_client

SEEDS = finder.ROOT / "seeds"
API_SAMPLE = SEEDS / "findtreatment_api_sample_2019.json"
PRIVATE_NOTE = "Staff only: the director's cell is 434-555-0199"
HSDS_TABLES = {
    "organization", "service", "location", "address", "phone", "service_at_location",
    "taxonomy", "taxonomy_term", "attribute",
}


def test_csv_export_of_the_national_directory(national_app, tmp_path):
    path = tmp_path / "directory.csv"
    result = national_app.test_cli_runner().invoke(args=["export", "csv", str(path)])
    assert result.exit_code == 0, result.output
    assert "Wrote 14,125 facilities" in result.output
    with open(path, encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert "notes" not in CSV_COLUMNS and "source_key" not in CSV_COLUMNS
    assert len(rows) == 14_125 == len({row["slug"] for row in rows})
    (mohr,) = [r for r in rows if r["name1"] == "Region Ten Community Services Board"
               and r["street1"] == "1014 East Market Street"]
    assert (mohr["city"], mohr["state"], mohr["zip"]) == ("Charlottesville", "VA", "22902")
    assert mohr["phone"] == "+14349798871" and mohr["status"] == "active"
    assert {"SA", "RES", "RS", "SS", "MD", "MOA"} <= set(mohr["services"].split(";"))
    assert mohr["data_source"].startswith("SAMHSA Treatment Locator")
    assert mohr["last_verified_on"] == ""
    (florence,) = [r for r in rows if r["name1"] == "A New Beginning"
                   and r["street1"] == "122 Helton Court"]
    assert (florence["zip"], florence["zip4"], florence["latitude"], florence["longitude"]) == (
        "35630", "1465", "34.832909", "-87.66639"
    )
    assert florence["services"] == ""


def small_directory(app) -> None:
    """The Charlottesville sample with services, one facility closed, verified and noted."""
    with app.app_context():
        sync_taxonomy(db.session, SEEDS)
        run_import(db.session, "findtreatment", API_SAMPLE.read_bytes(), "page.json",
                   dry_run=False, actor="test")
        facility = db.session.execute(
            sa.select(Facility).where(Facility.name1 == "Addiction Allies LLC")
        ).scalar_one()
        facility.notes = PRIVATE_NOTE
        facility.status = FacilityStatus.CLOSED
        facility.last_verified_on = date(2025, 3, 4)
        facility.name2 = "=HYPERLINK(\"http://example.org\")"
        db.session.commit()


def test_downloads_for_operators(app):
    small_directory(app)
    client, _ = logged_in_client(app, "operator")
    page = client.get("/staff/transfer/")
    for link in (b"/staff/transfer/export.csv", b"/staff/transfer/export-hsds.zip",
                 b"/staff/transfer/export-hsds.json"):
        assert link in page.data

    exported = client.get("/staff/transfer/export.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    text = exported.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 14
    (allies,) = [r for r in rows if r["name1"] == "Addiction Allies LLC"]
    assert allies["status"] == "closed" and allies["last_verified_on"] == "2025-03-04"
    assert allies["name2"].startswith("'=HYPERLINK")  # not run as a spreadsheet formula
    assert allies["services"].split(";")[0] == "SA"  # taxonomy order

    with client.get("/staff/transfer/export-hsds.zip") as archive:  # closing it frees the spool
        archive_data = archive.get_data()
    assert archive.status_code == 200 and archive.mimetype == "application/zip"
    assert archive.headers["Content-Disposition"].startswith("attachment")
    hsds_json = client.get("/staff/transfer/export-hsds.json")
    assert hsds_json.status_code == 200 and hsds_json.mimetype == "application/json"
    tables = json.loads(hsds_json.data)
    assert set(tables) == HSDS_TABLES

    assert "director's cell" not in text
    assert "director's cell" not in hsds_json.data.decode("utf-8")
    with zipfile.ZipFile(io.BytesIO(archive_data)) as zipped:
        for name in zipped.namelist():
            assert b"director's cell" not in zipped.read(name)


def test_hsds_package_is_described_and_consistent(app, tmp_path):
    small_directory(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["export", "hsds", str(tmp_path / "one")])
    assert result.exit_code == 0, result.output
    assert "14 organization" in result.output
    runner.invoke(args=["export", "hsds", str(tmp_path / "two")])
    # Ids are UUIDv5 of the facility: the same directory exports the same bytes.
    for name in ("hsds.json", "hsds.zip"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()

    with zipfile.ZipFile(tmp_path / "one" / "hsds.zip") as zipped:
        package = json.loads(zipped.read("datapackage.json"))
        assert package["profile"] == "tabular-data-package"
        resources = {r["name"]: r for r in package["resources"]}
        assert set(resources) == HSDS_TABLES
        csv_tables = {}
        for name, resource in resources.items():
            assert resource["path"] in zipped.namelist()
            reader = csv.DictReader(io.StringIO(zipped.read(resource["path"]).decode("utf-8")))
            assert reader.fieldnames == [f["name"] for f in resource["schema"]["fields"]]
            csv_tables[name] = list(reader)
    assert resources["organization"]["path"] == "organizations.csv"
    assert resources["taxonomy_term"]["path"] == "taxonomy_terms.csv"

    tables = json.loads((tmp_path / "one" / "hsds.json").read_text(encoding="utf-8"))
    for table in TABLES:
        assert len(tables[table.name]) == len(csv_tables[table.name]), table.name
        required = [f.name for f in table.fields if f.required]
        ids = [row["id"] for row in tables[table.name]]
        assert len(ids) == len(set(ids)), table.name
        for row in tables[table.name]:
            assert uuid.UUID(row["id"]).version == 5
            assert all(row[name] is not None for name in required), (table.name, row)
            for field, target in table.foreign_keys:
                if row[field] is not None:
                    targets = {r["id"] for r in tables[target or table.name]}
                    assert row[field] in targets, (table.name, field)

    (taxonomy,) = tables["taxonomy"]
    assert "SAMHSA" in taxonomy["name"] and taxonomy["uri"] == "https://findtreatment.gov"
    terms = {t["code"]: t for t in tables["taxonomy_term"]}
    assert len(terms) == 204 + 28
    assert terms["SA"]["parent_id"] == terms["TC"]["id"] and terms["TC"]["parent_id"] is None

    (allies,) = [o for o in tables["organization"] if o["name"] == "Addiction Allies LLC"]
    (service,) = [s for s in tables["service"] if s["organization_id"] == allies["id"]]
    assert (service["status"], service["assured_date"]) == ("inactive", "2025-03-04")
    (location,) = [loc for loc in tables["location"] if loc["organization_id"] == allies["id"]]
    sample = json.loads(API_SAMPLE.read_text(encoding="utf-8"))["rows"]
    (row,) = [r for r in sample if r["name1"] == "Addiction Allies LLC"]
    assert (location["latitude"], location["longitude"]) == (
        float(row["latitude"]), float(row["longitude"])
    )
    (address,) = [a for a in tables["address"] if a["location_id"] == location["id"]]
    assert (address["city"], address["state_province"], address["country"]) == (
        "Charlottesville", "VA", "US"
    )
    (phone,) = [p for p in tables["phone"] if p["location_id"] == location["id"]]
    assert (phone["number"], phone["extension"], phone["description"]) == (
        "+14349621645", None, "Main"
    )
    codes = {
        terms_by_id["code"]
        for a in tables["attribute"] if a["link_id"] == service["id"]
        for terms_by_id in tables["taxonomy_term"] if terms_by_id["id"] == a["taxonomy_term_id"]
    }
    assert "SA" in codes and all(a["link_entity"] == "service" for a in tables["attribute"])

    (mohr_location,) = [loc for loc in tables["location"]
                        if loc["alternate_name"] == "Mohr Center"]
    mohr_phones = {p["description"]: p for p in tables["phone"]
                   if p["location_id"] == mohr_location["id"]}
    assert mohr_phones["Intake"]["number"] == "+14349721800"
    (families,) = [loc for loc in tables["location"]
                   if loc["name"] == "Empowering Families Program"]
    intake = {p["description"]: p for p in tables["phone"]
              if p["location_id"] == families["id"]}["Intake"]
    assert (intake["number"], intake["extension"]) == ("+14349718454", 1)
