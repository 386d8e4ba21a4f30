"""An operator logs in, opens a call in real Chromium, and sees why it went where it went."""

import re

import pytest
import sqlalchemy as sa

from finder.calls.models import Advertiser
from finder.extensions import db
from tests.browser.conftest import open_page
from tests.staff_helpers import make_user
from tests.voice_helpers import NOW, call_params, new_call_sid, post, twiml

pytestmark = pytest.mark.browser

DEMO_HELPLINE = "+18005550199"


def test_operator_opens_a_call_and_sees_the_decision(chromium, writable_server):
    app, base_url = writable_server
    app.config["CLOCK"] = lambda: NOW
    # A helpline call as Twilio would send it, to the fictional demo pool that flask seed adds.
    root = twiml(post(app.test_client(), "/voice/incoming",
                      call_params(new_call_sid(), DEMO_HELPLINE)))
    dialed = root.find("Dial/Number").text
    with app.app_context():
        chosen = db.session.execute(
            sa.select(Advertiser.name).where(Advertiser.phone == dialed)
        ).scalar_one()
    email, password = make_user(app, "operator")
    context, page, outside = open_page(chromium, base_url)
    try:
        page.goto("/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/staff/$"))
        page.goto("/staff/calls/")
        rows = page.locator("table tbody tr")
        assert rows.count() == 1
        assert "2145550142" not in page.content()  # the caller shows only as last four
        rows.first.locator("a").first.click()
        page.wait_for_url(re.compile(r"/staff/calls/\d+$"))
        text = page.locator("main").inner_text()
        assert "where it went, and why" in text
        # Every candidate with its verdict: the demo pool has one advertiser whose license
        # expired and one at its monthly cap, and the decision names the one that was rung.
        assert "license_expired" in text
        assert "monthly_cap_reached" in text
        assert chosen in text
        assert "intact" in text.lower()
    finally:
        context.close()
    assert outside == [], f"the pages made third-party requests: {outside}"
