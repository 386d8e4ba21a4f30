"""``flask seed`` on the real data, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import date

import pytest
import sqlalchemy as sa

import finder
from finder.directory.models import Facility, Service, ServiceCategory, facility_service
from finder.extensions import db
from finder.geo.models import ZipCode
from finder.seeding.facilities import API_SOURCE, OTP_SOURCE, SUBSTANCE_USE_SOURCE
from finder.seeding.run import seed_all

SEEDS = finder.ROOT / "seeds"
#: 14,034 rows; 268 repeat another row's name, street and ZIP once case and spacing are ignored
#: (the data README's 256 compares case only; 12 more differ by a trailing space).
SUBSTANCE_USE_FACILITIES = 14_034 - 268
UNCONFIRMED = {"DLC", "MWS", "MMD", "MPEP", "MX", "SOTP", "DEA", "SAMF", "MHPA", "HEO", "TOD",
               "OUDO"}


def count(stmt) -> int:
    return db.session.execute(stmt).scalar_one()


def facilities_where(*conditions) -> list[Facility]:
    return list(db.session.execute(sa.select(Facility).where(*conditions)).scalars())


def services_of(facility: Facility) -> set[str]:
    return {s.code for s in facility.services}


def test_taxonomy(national_app):
    with national_app.app_context():
        assert count(sa.select(sa.func.count()).select_from(Service)) == 204
        categories = db.session.execute(
            sa.select(ServiceCategory).order_by(ServiceCategory.position)
        ).scalars().all()
        assert [c.code for c in categories[:12]] == [
            "TC", "SET", "OT", "OM", "PHR", "PAY", "PYAS", "SG", "AGE", "GN", "SL", "LCA"
        ]
        assert len({c.position for c in categories}) == len(categories) == 28
        by_code = {c.code: c for c in categories}
        assert by_code["TC"].plain_name == "Type of care"
        assert by_code["PHR"].plain_name == "Medications"
        assert "External Opioid Medications Source" in by_code["OM"].name
        assert "Opioid Medications used in Treatment" in by_code["OM"].name
        assert "External Source of Medications for AUD" in by_code["AUT"].name

        ss = db.session.get(Service, "SS")
        assert ss.label == "Sliding fee scale (fee is based on income and other factors)"
        assert ss.plain_label == "Sliding fee scale"
        assert db.session.get(Service, "MD").plain_label == "Medicaid"  # default: official label
        otp = db.session.get(Service, "OTP")
        assert otp.category_code == "OT"
        unconfirmed = set(
            db.session.execute(sa.select(Service.code).where(Service.confirmed.is_(False)))
            .scalars()
        )
        assert unconfirmed == UNCONFIRMED
        positions = db.session.execute(
            sa.select(Service.code).order_by(Service.position).limit(3)
        ).scalars().all()
        assert positions == ["SA", "DT", "HH"]  # file order


def test_facility_counts(national_app):
    with national_app.app_context():
        total = count(sa.select(sa.func.count()).select_from(Facility))
        by_source = dict(
            db.session.execute(
                sa.select(Facility.data_source, sa.func.count()).group_by(Facility.data_source)
            ).all()
        )
        assert by_source[SUBSTANCE_USE_SOURCE] == SUBSTANCE_USE_FACILITIES == 13_766
        assert by_source[OTP_SOURCE] == 358
        assert by_source[API_SOURCE] == 1
        assert total == 14_125 == sum(by_source.values())
        assert count(sa.select(sa.func.count(sa.distinct(Facility.slug)))) == total
        keys = sa.select(sa.func.count(sa.distinct(Facility.source_key)))
        assert count(keys) == total
        sample = facilities_where(Facility.data_source == SUBSTANCE_USE_SOURCE)[0]
        assert sample.status == "active" and sample.geo_precision == "rooftop"
        assert sample.source_date is None


def test_zip_codes_are_padded(national_app):
    with national_app.app_context():
        for state, prefix in (("CT", "0"), ("MA", "0"), ("NJ", "0"), ("PR", "00")):
            zips = db.session.execute(
                sa.select(Facility.zip).where(Facility.state == state)
            ).scalars().all()
            assert zips, state
            assert all(len(z) == 5 and z.startswith(prefix) for z in zips), state
        (florence,) = facilities_where(
            Facility.name1 == "A New Beginning", Facility.street1 == "122 Helton Court"
        )
        assert (florence.zip, florence.zip4) == ("35630", "1465")
        short_zip4 = count(
            sa.select(sa.func.count()).select_from(Facility).where(
                sa.func.length(Facility.zip4) != 4
            )
        )
        assert short_zip4 == 0


def test_repeated_listings_collapsed(national_app):
    with national_app.app_context():
        danvers = facilities_where(
            Facility.street1 == "75 Lindall Street", Facility.zip == "01923"
        )
        assert len(danvers) == 1
        assert danvers[0].name1 == "Recovery Centers of America"  # trailing space trimmed
        assert len(facilities_where(Facility.name1.like("Summit Estate Recovery Center%"))) == 1


def test_otp_merged_onto_existing_facility(national_app):
    with national_app.app_context():
        # "14th St. Clinic, 1124 International Blvd." in the OTP file is this facility.
        (facility,) = facilities_where(Facility.street1 == "1124 International Boulevard",
                                       Facility.zip == "94606")
        assert facility.name1 == "Addiction Research and Treatment Inc"
        assert facility.data_source == SUBSTANCE_USE_SOURCE
        assert "OTP" in services_of(facility)
        assert facilities_where(Facility.name1 == "14th St. Clinic") == []
        with_otp = count(
            sa.select(sa.func.count()).select_from(facility_service)
            .where(facility_service.c.service_code == "OTP")
        )
        assert with_otp > 1_700


def test_unmatched_otp_added(national_app):
    with national_app.app_context():
        (jail,) = facilities_where(
            Facility.name1 == "CFMG Opioid Treatment Program - Santa Rita Jail"
        )
        assert jail.data_source == OTP_SOURCE
        assert (jail.street1, jail.city, jail.state, jail.zip) == (
            "5325 Broder Blvd.", "Dublin", "CA", "94568"
        )
        assert services_of(jail) == {"OTP"}
        assert jail.phone is None and jail.website is None
        assert jail.slug.startswith("cfmg-opioid-treatment-program-santa-rita-jail")
        (cayey,) = facilities_where(Facility.name1.like("Cl_nica de Tratamiento Integral%Cayey"))
        assert cayey.name1.startswith("Clínica") and cayey.zip == "00736"


def test_real_phone_joined_in_e164(national_app):
    with national_app.app_context():
        # MentalHealthProviders row 11060: "907-452-8251 x3800", intake "907-459-3800".
        (tanana,) = facilities_where(
            Facility.name1 == "Tanana Chiefs Conference Inc", Facility.street1 == "122 1st Avenue"
        )
        assert tanana.phone == "+19074528251;ext=3800"
        assert tanana.intake_phone == "+19074593800"
        assert tanana.website == "http://www.tananachiefs.org/health/behavioral-health"


def test_facilities_without_a_source_phone_have_none(national_app):
    with national_app.app_context():
        (first,) = facilities_where(
            Facility.name1 == "A New Beginning", Facility.street1 == "122 Helton Court"
        )
        assert (first.phone, first.intake_phone, first.website) == (None, None, None)
        with_phone = count(
            sa.select(sa.func.count()).select_from(Facility).where(Facility.phone.is_not(None))
        )
        assert 1_700 <= with_phone <= 1_800  # the mental-health join and the API sample only
        assert count(
            sa.select(sa.func.count()).select_from(Facility).where(
                Facility.phone.is_not(None), ~Facility.phone.like("+1%")
            )
        ) == 0


def test_api_sample_links_real_services(national_app):
    with national_app.app_context():
        (mohr,) = facilities_where(
            Facility.name1 == "Region Ten Community Services Board",
            Facility.street1 == "1014 East Market Street",
        )
        codes = services_of(mohr)
        # f3 labels of this row: "Substance use treatment", "Residential; Short-term
        # residential", "Sliding fee scale (...)", "Adult men", "Male", "Medicaid" ...
        assert {"SA", "RES", "RS", "SS", "MN", "MALE", "MD", "PI", "SF"} <= codes
        assert "MOA" in codes  # 2019's "Accepts clients on opioid medication", via the aliases
        assert "OTP" not in codes
        assert mohr.data_source == SUBSTANCE_USE_SOURCE
        assert mohr.phone == "+14349798871"  # the API sample's phone, none in the other files
        (allies,) = facilities_where(Facility.data_source == API_SOURCE)
        assert allies.name1 == "Addiction Allies LLC"
        assert "SA" in services_of(allies)
        # Mental-health-only rows of the sample are not added.
        assert facilities_where(Facility.name1 == "UVA Child/Adolescent Psychiatry Clinic") == []


def test_zip_gazetteer(national_app):
    with national_app.app_context():
        assert 42_000 <= count(sa.select(sa.func.count()).select_from(ZipCode)) <= 43_500
        austin = db.session.get(ZipCode, "78701")
        assert (austin.city, austin.city_key, austin.state) == ("Austin", "austin", "TX")
        assert austin.timezone == "America/Chicago"
        assert austin.latitude == pytest.approx(30.2713)
        assert austin.longitude == pytest.approx(-97.7426)
        assert db.session.get(ZipCode, "99634").timezone is None  # 'Napakiak' is not a zone
        assert db.session.get(ZipCode, "00501").zip_type == "UNIQUE"
        military = count(
            sa.select(sa.func.count()).select_from(ZipCode).where(ZipCode.zip_type == "MILITARY")
        )
        assert military > 0


def checksum() -> str:
    """A digest of every row the seed writes, in primary-key order."""
    digest = hashlib.sha256()
    for table, order in (
        (ServiceCategory.__table__, "code"),
        (Service.__table__, "code"),
        (ZipCode.__table__, "zip"),
        (Facility.__table__, "id"),
        (facility_service, "facility_id, service_code"),
    ):
        for row in db.session.execute(sa.select(table).order_by(sa.text(order))):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def test_reseeding_changes_nothing(seeded_app):
    with seeded_app.app_context():
        before = checksum()
    result = seeded_app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert "0 created, 0 updated, 14125 unchanged" in result.output
    assert "Service links: 0 added" in result.output
    assert "(0 loaded, 0 updated)" in result.output
    assert "unmapped" in result.output
    with seeded_app.app_context():
        assert checksum() == before


def test_reseeding_restores_source_fields_and_keeps_slug_and_admin_data(seeded_app):
    with seeded_app.app_context():
        (tanana,) = facilities_where(
            Facility.name1 == "Tanana Chiefs Conference Inc", Facility.street1 == "122 1st Avenue"
        )
        slug = tanana.slug
        tanana.name1 = "Renamed by mistake"
        tanana.notes = "An admin's note"
        (verified,) = facilities_where(
            Facility.name1 == "A New Beginning", Facility.street1 == "122 Helton Court"
        )
        verified.phone = "+12565550100"
        verified.city = "Verified City"
        verified.last_verified_on = date(2025, 1, 2)
        db.session.commit()

        report = seed_all(db.session, SEEDS)
        db.session.commit()
        assert report.facilities.updated == 1
        assert report.facilities.kept_verified == 1
        assert report.facilities.created == 0

        db.session.expire_all()
        tanana = db.session.get(Facility, tanana.id)
        assert tanana.name1 == "Tanana Chiefs Conference Inc"
        assert tanana.slug == slug and tanana.notes == "An admin's note"
        assert tanana.phone == "+19074528251;ext=3800"
        verified = db.session.get(Facility, verified.id)
        assert (verified.city, verified.phone) == ("Verified City", "+12565550100")


def test_reseeding_reports_unmapped_labels(seeded_app):
    with seeded_app.app_context():
        report = seed_all(db.session, SEEDS)
        db.session.rollback()
    assert report.api.labels_unmapped == sum(report.api.unmapped.values()) > 0
    assert ("OL", "German") in report.api.unmapped
    assert report.api.labels_mapped > 500
    assert report.api.skipped_mental_health == 10
    assert (report.otp.merged, report.otp.added) == (1467, 358)


def test_web_app_does_not_load_zipcodes():
    code = (
        "import sys; from finder import create_app; create_app('testing');"
        "import finder.seeding.run, finder.seeding.cli;"
        "assert 'zipcodes' not in sys.modules, 'zipcodes imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=finder.ROOT)
