"""A visitor on a phone searches a ZIP in real Chromium, opens a facility and sees how to call."""

import re

import pytest

pytestmark = pytest.mark.browser


def test_search_a_zip_open_a_facility_and_call(page):
    page.goto("/")
    page.get_by_label(re.compile("ZIP code, city or address")).fill("22902")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"/search\?"))
    assert re.search(r"Showing \d+ facilit(y|ies) within 25 miles of Charlottesville, VA 22902",
                     page.content())
    first = page.locator("main h2 a, main h3 a").first
    name = first.inner_text()
    first.click()
    page.wait_for_url(re.compile(r"/facilities/"))
    assert page.locator("h1").inner_text().strip() == name.strip()
    call = page.locator('a[href^="tel:+1"]').first
    assert call.is_visible()
    assert "mi from Charlottesville, VA 22902" in page.content()
    # The notice saying where calls go is one tap away, and it opens.
    notice = page.locator('a[href="/where-do-calls-go"]').first
    assert notice.is_visible()
    notice.click()
    page.wait_for_url(re.compile(r"/where-do-calls-go$"))
    assert "Where do calls go" in page.locator("h1").inner_text()
    page.go_back()
    # Crisis lines are on every page.
    assert page.locator('a[href="tel:988"]').count() >= 1
    assert page.locator('a[href^="tel:+18006624357"], a[href^="tel:1-800-662-4357"]').count() >= 1


def test_use_my_location_searches_from_the_browser_position(page):
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 30.2713, "longitude": -97.7426})
    page.goto("/")
    button = page.get_by_role("button", name="Use my location")
    assert button.is_visible()
    button.click()
    page.wait_for_url(re.compile(r"/search\?.*lat="))
    assert "near Austin, TX" in page.content()
    assert page.locator("main li, main article").count() > 0


def test_an_unknown_place_says_so_and_suggests(page):
    page.goto("/")
    page.get_by_label(re.compile("ZIP code, city or address")).fill("Atlantis, ZZ")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"/search\?"))
    # Wait for the new page's heading instead of reading the page mid-navigation.
    heading = page.get_by_role("heading", name="We couldn't find that place.")
    heading.wait_for()
    assert heading.is_visible()
    assert page.get_by_label(re.compile("ZIP code, city or address")).input_value() == (
        "Atlantis, ZZ"
    )
