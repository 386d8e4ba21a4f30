"""The HSDS round trip: export a directory with services, import it into an empty database,
and find the same facilities; importing again changes nothing."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
import sqlalchemy as sa

import finder
from finder.directory.models import Facility, FacilityStatus, GeoPrecision, Service
from finder.extensions import db
from finder.seeding.taxonomy import sync_taxonomy
from tests.conftest import dispose, make_app
from tests.staff_helpers import row_counts

SEEDS = finder.ROOT / "seeds"
COMPARED = (
    "name1", "name2", "street1", "street2", "city", "state", "zip", "zip4", "county", "phone",
    "intake_phone", "website", "status", "last_verified_on", "data_source",
)


@pytest.fixture
def target_app(databases, migrated_template):
    """A second empty, migrated database (the one the export is imported into)."""
    app = make_app(databases.new(template=migrated_template))
    yield app
    dispose(app)


def virginia_csv(path) -> int:
    """The Virginia rows of the shared substance-use CSV (a few hundred facilities)."""
    with open(SEEDS / "SubstanceUseTreatment_Geocoded.csv", encoding="utf-8", newline="") as src:
        reader = csv.DictReader(src)
        rows = [row for row in reader if row["state"] == "VA"]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return len(rows)


def build_source(app, tmp_path) -> None:
    with app.app_context():
        sync_taxonomy(db.session, SEEDS)
        db.session.commit()
    runner = app.test_cli_runner()
    assert virginia_csv(tmp_path / "va.csv") > 200
    for args in (["samhsa-csv", str(tmp_path / "va.csv")],
                 ["findtreatment", str(SEEDS / "findtreatment_api_sample_2019.json")]):
        result = runner.invoke(args=["import", *args])
        assert result.exit_code == 0, result.output
    with app.app_context():
        allies = db.session.execute(
            sa.select(Facility).where(Facility.name1 == "Addiction Allies LLC",
                                      Facility.street1 == "233 Hydraulic Ridge Road")
        ).scalar_one()
        allies.status = FacilityStatus.CLOSED
        allies.last_verified_on = date(2025, 3, 4)
        allies.intake_phone = "+14349621645;ext=22"
        # A listing an admin typed in: no source key, placed by hand.
        db.session.add(Facility(
            slug="hand-made-clinic-charlottesville-va", source_key=None,
            name1="Hand-made Clinic", street1="1 Test Lane", city="Charlottesville", state="VA",
            zip="22903", latitude=38.0293059, longitude=-78.4766781,
            geo_precision=GeoPrecision.MANUAL, phone="+14345550100",
            website="https://example.org/clinic", data_source="Added by an admin",
            services=[db.session.get(Service, "SA"), db.session.get(Service, "OP")],
        ))
        db.session.commit()


def directory(app) -> dict[str, dict]:
    """Every facility by slug: the compared fields, coordinates to 6 decimals, codes."""
    with app.app_context():
        facilities = db.session.execute(sa.select(Facility)).scalars().all()
        return {
            f.slug: {c: getattr(f, c) for c in COMPARED}
            | {
                "latitude": round(f.latitude, 6),
                "longitude": round(f.longitude, 6),
                "services": sorted(s.code for s in f.services),
                "source_key": f.source_key,
            }
            for f in facilities
        }


def test_hsds_round_trip(app, target_app, tmp_path):
    build_source(app, tmp_path)
    source = directory(app)
    assert sum(1 for f in source.values() if f["services"]) >= 14
    assert any(f["status"] == "closed" for f in source.values())

    exported = app.test_cli_runner().invoke(args=["export", "hsds", str(tmp_path / "hsds")])
    assert exported.exit_code == 0, exported.output

    with target_app.app_context():
        sync_taxonomy(db.session, SEEDS)
        db.session.commit()
    runner = target_app.test_cli_runner()
    before = row_counts(target_app)
    dry = runner.invoke(args=["import", "hsds", str(tmp_path / "hsds"), "--dry-run"])
    assert dry.exit_code == 0 and f"{len(source):,} created" in dry.output
    assert row_counts(target_app) == before

    imported = runner.invoke(args=["import", "hsds", str(tmp_path / "hsds")])
    assert imported.exit_code == 0, imported.output
    assert (f"{len(source):,} rows; {len(source):,} created, 0 updated, 0 unchanged, "
            "0 skipped, 0 failed.") in imported.output

    target = directory(target_app)
    hand_made = target.pop("hand-made-clinic-charlottesville-va")
    source_hand_made = source.pop("hand-made-clinic-charlottesville-va")
    assert target == source
    assert hand_made.pop("source_key").startswith("hsds:")
    source_hand_made.pop("source_key")
    assert hand_made == source_hand_made
    allies = next(f for f in target.values() if f["street1"] == "233 Hydraulic Ridge Road")
    assert (allies["status"], allies["last_verified_on"]) == ("closed", date(2025, 3, 4))
    assert allies["intake_phone"] == "+14349621645;ext=22"

    for again in (tmp_path / "hsds" / "hsds.zip", tmp_path / "hsds" / "hsds.json"):
        result = runner.invoke(args=["import", "hsds", str(again)])
        assert result.exit_code == 0, result.output
        assert f"0 created, 0 updated, {len(source) + 1:,} unchanged" in result.output
    assert len(directory(target_app)) == len(source) + 1


def test_hsds_import_refuses_what_is_not_hsds(target_app, tmp_path):
    bad_zip = tmp_path / "bad.zip"
    bad_zip.write_bytes(b"PK\x03\x04 not really a zip")
    empty = tmp_path / "empty"
    empty.mkdir()
    runner = target_app.test_cli_runner()
    assert runner.invoke(args=["import", "hsds", str(bad_zip)]).exit_code == 1
    result = runner.invoke(args=["import", "hsds", str(empty)])
    assert result.exit_code == 1 and "holds no HSDS files" in result.output
    no_locations = tmp_path / "no-locations.json"
    no_locations.write_text('{"organization": []}', encoding="utf-8")
    result = runner.invoke(args=["import", "hsds", str(no_locations)])
    assert result.exit_code == 1 and "has no locations" in result.output
