"""The fictional demo pool and facility numbers that ``flask seed`` adds, and the pages that show
tracking numbers."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime

import phonenumbers
import pytest
import sqlalchemy as sa

from finder.calls import demo
from finder.calls.eligibility import Reason
from finder.calls.models import (
    Advertiser,
    AdvertiserPool,
    NumberKind,
    TrackingNumber,
)
from finder.calls.numbers import number_for_facility
from finder.calls.simulate import simulate
from finder.directory.models import Facility
from finder.extensions import db
from finder.formatting import tel_href
from tests.factories import make_facility

FICTIONAL = re.compile(r"^\+1\d{3}55501\d\d$")  # 555-0100 to 555-0199


def is_fictional(number: str) -> bool:
    return bool(FICTIONAL.match(number)) and phonenumbers.is_valid_number(
        phonenumbers.parse(number))


def demo_pool() -> AdvertiserPool:
    return db.session.execute(
        sa.select(AdvertiserPool).where(AdvertiserPool.name == demo.POOL_NAME)
    ).scalar_one()


def facility_numbers() -> list[TrackingNumber]:
    return list(db.session.execute(
        sa.select(TrackingNumber).where(TrackingNumber.kind == NumberKind.FACILITY)
        .order_by(TrackingNumber.number)
    ).scalars())


def test_the_seeded_demo_pool_is_fictional_and_varied(national_app):
    with national_app.app_context():
        pool = demo_pool()
        assert pool.is_demo and "(fictional)" in pool.name
        advertisers = pool.advertisers
        assert 4 <= len(advertisers) <= 6
        today = date.today()
        for advertiser in advertisers:
            assert advertiser.is_demo and advertiser.name.startswith("Example ")
            assert advertiser.name.endswith("(fictional)")
            assert is_fictional(advertiser.phone), advertiser.phone
            assert advertiser.facility_id is None  # not a real facility
            assert advertiser.license_number and advertiser.accreditation_body
            assert advertiser.certification_id and advertiser.consent_to_be_named
            assert advertiser.active
        assert len({a.timezone for a in advertisers}) >= 4
        assert len({a.state for a in advertisers}) >= 4
        assert len({a.tier for a in advertisers}) >= 2 and len({a.weight for a in advertisers}) >= 2
        expired = [a for a in advertisers if a.license_expires_on < today]
        assert [a.name for a in expired] == [demo.EXPIRED_LICENSE]
        assert [a.name for a in advertisers if a.monthly_cap == 0] == [demo.AT_ITS_CAP]

        (helpline,) = pool.numbers
        assert helpline.number == demo.HELPLINE_NUMBER and helpline.is_demo
        assert is_fictional(helpline.number)
        assert phonenumbers.number_type(phonenumbers.parse(helpline.number)) == \
            phonenumbers.PhoneNumberType.TOLL_FREE


def test_demo_facility_numbers_ring_real_facilities_with_phones(national_app):
    with national_app.app_context():
        numbers = facility_numbers()
        assert [n.number for n in numbers] == list(demo.FACILITY_NUMBERS)
        for number in numbers:
            assert number.is_demo and is_fictional(number.number)
            facility = number.facility
            assert (facility.city, facility.state) == demo.FACILITY_CITY
            own = facility.intake_phone or facility.phone
            assert own and not is_fictional(own.split(";")[0])  # a real, listed phone
        assert len({n.facility_id for n in numbers}) == len(numbers)


def test_the_demo_explains_its_expired_and_capped_advertisers(national_app):
    with national_app.app_context():
        result = simulate(db.session, number=demo.HELPLINE_NUMBER, hash_key=b"k", state="TX",
                          at=datetime(2026, 11, 21, 22, 0, tzinfo=UTC))
        verdicts = {v.name: v for v in result.decision.verdicts}
        assert Reason.LICENSE_EXPIRED in verdicts[demo.EXPIRED_LICENSE].reasons
        assert Reason.MONTHLY_CAP_REACHED in verdicts[demo.AT_ITS_CAP].reasons
        # Someone always answers a Texan: the 24/7 Austin example.
        assert result.decision.chosen.name == "Example Recovery Center (fictional)"
        db.session.rollback()


def test_facility_pages_show_the_tracking_number(client, national_app):
    with national_app.app_context():
        number = facility_numbers()[0]
        facility = number.facility
        slug, own = facility.slug, [facility.phone, facility.intake_phone]
        assert number_for_facility(db.session, facility).number == number.number
    html = client.get(f"/facilities/{slug}").get_data(as_text=True)
    assert f'href="tel:{number.number}"' in html
    for phone in filter(None, own):
        assert f'href="tel:{phone.split(";")[0]}' not in html
    assert "No phone number is listed" not in html


def test_search_results_show_tracking_numbers(client, national_app):
    html = client.get("/search?location=Charlottesville%2C+VA&radius=5").get_data(as_text=True)
    phones = {}
    for item in html.split('<li class="result">')[1:]:
        slug = re.search(r'href="/facilities/([^"?]+)', item).group(1)
        tel = re.search(r'href="(tel:[^"]+)"', item)
        phones[slug] = tel.group(1) if tel else None
    with national_app.app_context():
        expected = {n.facility.slug: tel_href(n.number) for n in facility_numbers()}
        listed = {slug: tel_href(db.session.execute(
            sa.select(Facility.phone).where(Facility.slug == slug)).scalar()) for slug in phones}
    assert set(phones) & set(expected), "some demo facilities are among the results"
    for slug, shown in phones.items():
        assert shown == expected.get(slug, listed[slug]), slug


# --- seeding: idempotent -------------------------------------------------------------------------


def call_tables_digest() -> str:
    digest = hashlib.sha256()
    for model in (AdvertiserPool, Advertiser, TrackingNumber):
        for row in db.session.execute(sa.select(model.__table__).order_by(model.id)):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def test_seed_demo_is_idempotent_and_restores_its_values(app):
    with app.app_context():
        made = [make_facility(db.session, slug=f"charlottesville-{n}") for n in range(7)]
        make_facility(db.session, slug="charlottesville-00-no-phone", phone=None)
        make_facility(db.session, slug="charlottesville-01-elsewhere", city="Richmond")
        first = demo.seed_demo(db.session)
        db.session.commit()
        assert (first.advertisers.created, first.numbers.created) == (len(demo.ADVERTISERS), 6)
        # The first five with a phone, by slug.
        assert first.facilities == [f.slug for f in made[:5]]
        digest = call_tables_digest()

        again = demo.seed_demo(db.session)
        db.session.commit()
        assert (again.pool.unchanged, again.advertisers.unchanged, again.numbers.unchanged) == \
            (1, len(demo.ADVERTISERS), 6)
        assert again.advertisers.created == again.advertisers.updated == 0
        assert call_tables_digest() == digest
        assert "6 advertisers (0 created, 0 updated, 6 unchanged)" in again.lines()[0]

        # A demo row someone edited goes back to its defined values.
        austin = db.session.execute(
            sa.select(Advertiser).where(Advertiser.name == "Example Recovery Center (fictional)")
        ).scalar_one()
        austin.weight = 99
        db.session.commit()
        restored = demo.seed_demo(db.session)
        db.session.commit()
        assert restored.advertisers.updated == 1 and austin.weight == 3
        assert call_tables_digest() != digest  # updated_at moved, nothing else
        assert db.session.execute(sa.select(sa.func.count()).select_from(Facility)).scalar() == 9


def test_flask_seed_reports_the_demo_and_reseeding_changes_nothing(seeded_app):
    with seeded_app.app_context():
        digest = call_tables_digest()
    result = seeded_app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert (
        f"Demo call routing (fictional): pool {demo.POOL_NAME!r} (0 created, 0 updated, "
        "1 unchanged), 6 advertisers (0 created, 0 updated, 6 unchanged); helpline "
        "+18005550199 and 5 facility numbers (0 created, 0 updated, 6 unchanged)."
    ) in result.output
    with seeded_app.app_context():
        assert call_tables_digest() == digest
    quiet = seeded_app.test_cli_runner().invoke(args=["seed", "--quiet"])
    assert quiet.exit_code == 0 and quiet.output == ""


@pytest.mark.parametrize("entry", demo.ADVERTISERS, ids=lambda e: e[0])
def test_every_demo_advertiser_is_defined_consistently(entry):
    values = demo.advertiser_values(entry)
    assert values["license_state"] == values["state"]
    assert is_fictional(values["phone"])
    assert values["states_served"] == sorted(values["states_served"])
