"""The public "Where do calls go?" notice, generated from the live routing configuration."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest

from finder.calls.models import Advertiser, TrackingNumber
from finder.db import now_utc
from finder.extensions import db
from finder.transparency.notice import build_notice, public_helpline_numbers
from tests.conftest import dispose, make_app
from tests.factories import make_advertiser, make_facility, make_pool, make_tracking_number

HELPLINE = "+18005550142"
LAPSED = date(2026, 1, 31)


@pytest.fixture
def app(databases, migrated_template):
    """A fresh database with its own retention settings, so the page can be seen to read them."""
    app = make_app(databases.new(template=migrated_template), RETENTION_CALLBACK_DAYS=12,
                   RETENTION_CALL_DAYS=99, CALL_RING_SECONDS=17)
    yield app
    dispose(app)


@pytest.fixture
def routing(app):
    """One helpline pool: two advertisers that may answer, and one for each reason not to."""
    with app.app_context():
        pool = make_pool(db.session, name="Helpline pool A", max_attempts=2)
        other = make_pool(db.session, name="Pool without a number")
        make_tracking_number(db.session, pool=pool, number=HELPLINE)
        names = {
            "eligible": make_advertiser(db.session, pool, name="Example Hill Recovery (fictional)",
                                        city="Waco", state="TX", license_number="TX-LIC-4401",
                                        license_state="TX",
                                        license_expires_on=date(2031, 3, 15)),
            "eligible2": make_advertiser(db.session, pool, name="Example Bay Center (fictional)",
                                         city="Oakland", state="CA", license_number="CA-77-12",
                                         license_state="CA", states_served=["CA", "NV"]),
            "expired": make_advertiser(db.session, pool, name="Example Expired Care (fictional)",
                                       license_expires_on=LAPSED),
            "no_consent": make_advertiser(db.session, pool,
                                          name="Example Quiet Clinic (fictional)",
                                          consent_to_be_named=False),
            "inactive": make_advertiser(db.session, pool, name="Example Paused Place (fictional)",
                                        active=False),
            "contract": make_advertiser(db.session, pool,
                                        name="Example Former Partner (fictional)",
                                        contract_ends_on=LAPSED),
            "accreditation": make_advertiser(db.session, pool,
                                             name="Example Lapsed Accreditation (fictional)",
                                             accreditation_expires_on=LAPSED),
            "other_pool": make_advertiser(db.session, other,
                                          name="Example Unused Pool Member (fictional)"),
        }
        db.session.commit()
        return {key: advertiser.name for key, advertiser in names.items()}


def page_text(response) -> str:
    html = response.get_data(as_text=True)
    main = html.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", main)).split())


def section(html: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, re.S)
    assert match, section_id
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group())).split())


def test_the_notice_names_exactly_the_advertisers_that_may_answer(app, routing):
    response = app.test_client().get("/where-do-calls-go")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    who = section(html, "who-answers")
    assert "Example Hill Recovery (fictional) Waco, TX TX-LIC-4401 (TX), valid until " \
           "March 15, 2031" in who
    assert "Example Bay Center (fictional) Oakland, CA CA-77-12 (CA)" in who
    assert "CA, NV" in who
    for key in ("expired", "no_consent", "inactive", "contract", "accreditation"):
        assert routing[key] not in html, key
    # A pool that answers no number and takes no forwards is not named at all... unless it is
    # the pool forwarded calls go to, which by default is the first pool.
    assert routing["other_pool"] not in html
    assert "Helpline pool A" in who and "Takes facility calls forwarded when you press 1." in who
    assert "Up to 2 centers are tried on one call." in who
    # The helpline number is shown through the macro, with who answers it.
    assert 'href="tel:+18005550142"' in html
    assert "(800) 555-0142" in who


def test_the_notice_data_matches_the_router_credential_check(app, routing):
    with app.app_context():
        notice = build_notice(db.session, now=datetime(2027, 5, 1, 15, tzinfo=UTC),
                              callback_days=3, call_days=4, forward_pool_name=None,
                              ring_seconds=20)
    [pool] = notice.pools
    assert {a.name for a in pool.answerers} == {routing["eligible"], routing["eligible2"]}
    assert pool.numbers == (HELPLINE,)
    assert notice.forward_pool == pool
    assert notice.pricing_bases == ("per call",)
    # Before the accreditation and contract lapsed, those two were answering too.
    with app.app_context():
        earlier = build_notice(db.session, now=datetime(2026, 1, 15, 15, tzinfo=UTC),
                               callback_days=3, call_days=4, forward_pool_name=None,
                               ring_seconds=20)
    assert {a.name for a in earlier.pools[0].answerers} == {
        routing["eligible"], routing["eligible2"], routing["expired"], routing["contract"],
        routing["accreditation"]}


def test_the_notice_changes_as_soon_as_an_advertiser_is_deactivated(app, routing):
    client = app.test_client()
    assert routing["eligible"] in client.get("/where-do-calls-go").get_data(as_text=True)
    with app.app_context():
        advertiser = db.session.execute(
            db.select(Advertiser).where(Advertiser.name == routing["eligible"])
        ).scalar_one()
        advertiser.active = False
        db.session.commit()
    html = client.get("/where-do-calls-go").get_data(as_text=True)
    assert routing["eligible"] not in html
    assert routing["eligible2"] in html


def test_a_pool_with_nobody_eligible_says_calls_go_to_samhsa(app):
    with app.app_context():
        pool = make_pool(db.session, name="Empty pool")
        make_tracking_number(db.session, pool=pool, number=HELPLINE)
        make_advertiser(db.session, pool, name="Example Lapsed (fictional)",
                        license_expires_on=LAPSED)
        db.session.commit()
    html = app.test_client().get("/where-do-calls-go").get_data(as_text=True)
    assert "No treatment center can take these calls right now" in section(html, "who-answers")
    assert "At the moment no advertiser can take forwarded calls" in section(
        html, "facility-numbers")


def test_the_forward_pool_setting_is_followed(databases, migrated_template):
    app = make_app(databases.new(template=migrated_template), FORWARD_POOL="Second pool")
    try:
        with app.app_context():
            first = make_pool(db.session, name="First pool")
            make_tracking_number(db.session, pool=first, number=HELPLINE)
            second = make_pool(db.session, name="Second pool")
            make_advertiser(db.session, second, name="Example Forward Taker (fictional)")
            db.session.commit()
        html = app.test_client().get("/where-do-calls-go").get_data(as_text=True)
        who = section(html, "who-answers")
        first_part, second_part = who.split("Second pool", 1)
        assert "Takes facility calls forwarded" not in first_part
        assert "Takes facility calls forwarded" in second_part
        assert "Example Forward Taker (fictional)" in second_part
    finally:
        dispose(app)


def test_privacy_text_reads_the_configured_retention(app, routing):
    response = app.test_client().get("/where-do-calls-go")
    privacy = section(response.get_data(as_text=True), "privacy")
    assert "deleted after 12 days" in privacy
    assert "After 99 days" in privacy
    assert "keyed hash" in privacy and "last four digits" in privacy
    facility = section(response.get_data(as_text=True), "facility-numbers")
    assert "within 17 seconds" in facility
    assert "Press 1" in facility and "Press 2" in facility
    assert "quality treatment center" in facility and "SAMHSA National Helpline" in facility


def test_the_notice_says_who_pays_how_to_reach_samhsa_and_when_it_was_made(app, routing):
    before = now_utc().replace(microsecond=0, second=0)
    html = app.test_client().get("/where-do-calls-go").get_data(as_text=True)
    pays = section(html, "who-pays")
    assert "pay finder to advertise" in pays and "per call" in pays
    other = section(html, "other-ways")
    assert "1-800-662-4357" in other and "your state's substance use agency" in other.lower()
    assert 'href="tel:+18006624357"' in html
    stamp = re.search(r'<time datetime="([^"]+)"', html).group(1)
    generated = datetime.fromisoformat(stamp)
    assert before <= generated <= now_utc() + timedelta(seconds=1)


def test_home_and_facility_pages_show_the_helpline_through_the_macro(app):
    with app.app_context():
        pool = make_pool(db.session)
        make_tracking_number(db.session, pool=pool, number=HELPLINE)
        retired = make_tracking_number(db.session, pool=pool, number="+18005550143")
        retired.retired_at = now_utc()
        facility = make_facility(db.session)
        make_tracking_number(db.session, facility=facility, number="+14345550177")
        plain = make_facility(db.session)
        db.session.commit()
        assert public_helpline_numbers(db.session) == [HELPLINE]
        slug, plain_slug = facility.slug, plain.slug
    client = app.test_client()
    wrapper = re.compile(r'<span class="helpline-number">(.*?)</span></p>', re.S)
    for path in ("/", f"/facilities/{slug}"):
        html = client.get(path).get_data(as_text=True)
        [shown] = wrapper.findall(html)
        assert "Not sure where to start? Call our helpline" in shown
        assert 'href="tel:+18005550142"' in shown
        assert "Answered by licensed treatment facilities that pay to advertise on finder." \
               in shown
        assert 'href="/where-do-calls-go#who-answers">Who answers?</a>' in shown
        assert "555-0143" not in html  # retired
    # A facility number rings the facility: no disclosure, but a link to the notice beside it.
    html = client.get(f"/facilities/{slug}").get_data(as_text=True)
    number_item = re.search(r'<li><a class="phone" href="tel:\+14345550177">.*?</li>', html)
    assert number_item and "Where do calls go?" in number_item.group()
    assert 'href="/where-do-calls-go#facility-numbers"' in number_item.group()
    plain_html = client.get(f"/facilities/{plain_slug}").get_data(as_text=True)
    assert 'href="/where-do-calls-go#facility-numbers"' not in plain_html


def test_without_a_helpline_number_no_helpline_is_shown(app):
    html = app.test_client().get("/").get_data(as_text=True)
    assert "helpline-number" not in html and "Call our helpline" not in html
    notice = app.test_client().get("/where-do-calls-go").get_data(as_text=True)
    assert "finder has no helpline number in service right now." in notice
    assert "No treatment center answers calls for finder right now." in notice


def test_every_page_links_to_the_notice_from_the_footer(app):
    html = app.test_client().get("/").get_data(as_text=True)
    footer = html.split('<footer class="site-footer">', 1)[1]
    assert 'href="/where-do-calls-go">Where do calls go?</a>' in footer
    assert 'href="/guides">Substance guides</a>' in footer


def test_the_demo_pool_notice_on_the_seeded_directory(client, national_app):
    with national_app.app_context():
        numbers = db.session.execute(db.select(TrackingNumber.number)).scalars().all()
    assert "+18005550199" in numbers
    html = client.get("/where-do-calls-go").get_data(as_text=True)
    who = section(html, "who-answers")
    assert "This is a demonstration" in who
    assert "Example Recovery Center (fictional) Austin, TX DEMO-TX-0100 (TX)" in who
    # Its license expired on 2026-06-30: never named while it stays expired.
    assert "Example Desert Wellness Center (fictional)" not in html
