"""An admin logs in, creates a facility with a tracking number, and the public finds it."""

import re

import pytest

from tests.browser.conftest import open_page
from tests.staff_helpers import make_user

pytestmark = pytest.mark.browser

NAME = "Blue Ridge Recovery Test Clinic"


def test_admin_creates_a_listing_with_a_number_and_the_public_finds_it(chromium, writable_server):
    app, base_url = writable_server
    email, password = make_user(app, "admin")
    context, page, outside = open_page(chromium, base_url)
    try:
        page.goto("/staff/")
        page.wait_for_url(re.compile(r"/login"))
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/staff/$"))

        page.goto("/staff/facilities/new")
        page.get_by_label("Name", exact=True).fill(NAME)
        page.get_by_label("Street address").fill("401 Park Street")
        page.get_by_label("City").fill("Charlottesville")
        page.get_by_label("State").select_option("VA")
        page.get_by_label("ZIP code").fill("22902")
        page.get_by_label("Main phone (optional)").fill("(434) 555-0177")
        page.get_by_role("button", name="Create the listing").click()
        page.wait_for_url(re.compile(r"/staff/facilities/\d+$"))
        facility_id = re.search(r"/staff/facilities/(\d+)$", page.url).group(1)
        assert "Created the listing" in page.content()

        page.goto("/staff/numbers/new")
        page.get_by_label("Tracking number").fill("+1 434 555 0188")
        page.get_by_label("One facility's own phone (facility number)").check()
        page.get_by_label("Facility id or slug").fill(facility_id)
        page.get_by_role("button", name="Assign number").click()
        page.wait_for_url(re.compile(r"/staff/numbers/\d+$"))
        assert "now rings" in page.content()

        page.goto("/")
        page.get_by_label(re.compile("ZIP code, city or address")).fill("22902")
        page.get_by_role("button", name="Search").click()
        page.wait_for_url(re.compile(r"/search\?"))
        link = page.get_by_role("link", name=NAME)
        assert link.count() == 1
        link.click()
        page.wait_for_url(re.compile(r"/facilities/"))
        assert page.locator("h1").inner_text().strip() == NAME
        # The listing shows its tracking number, which rings the facility's own phone.
        assert page.locator('a[href^="tel:+14345550188"]').count() >= 1
    finally:
        context.close()
    assert outside == [], f"the pages made third-party requests: {outside}"
