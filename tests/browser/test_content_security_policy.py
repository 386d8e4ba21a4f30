"""Real Chromium enforces the Content-Security-Policy: no page breaks it, and the policy bites.

Each page is opened with a listener for ``securitypolicyviolation`` events (added through the
browser's devtools, which the policy does not govern) and for console errors.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import open_page
from tests.staff_helpers import make_user

pytestmark = pytest.mark.browser

LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""
PUBLIC = ["/", "/search?location=22902", "/guides", "/guides/alcohol", "/where-do-calls-go",
          "/login", "/no/such/page"]


def watch(page) -> list[str]:
    page.add_init_script(LISTEN)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and "Security Policy" in message.text else None)
    return errors


def violations(page) -> list[str]:
    return page.evaluate("window.__violations")


def test_public_pages_break_no_rule_and_the_location_button_works(page):
    errors = watch(page)
    for path in PUBLIC:
        page.goto(path)
        assert violations(page) == [], path
    page.goto("/search?location=22902")
    page.locator("main a[href^='/facilities/']").first.click()
    page.wait_for_url(re.compile(r"/facilities/"))
    assert violations(page) == []
    assert errors == []
    # Permissions-Policy keeps geolocation for finder itself, and locate.js (the one script)
    # runs under the policy.
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 38.0293, "longitude": -78.4767})
    page.goto("/")
    page.get_by_role("button", name="Use my location").click()
    page.wait_for_url(re.compile(r"/search\?.*lat="))
    assert violations(page) == [] and errors == []


def test_the_policy_blocks_injected_inline_code(page):
    """Were markup ever injected, its inline script would not run."""
    watch(page)
    page.goto("/")
    page.evaluate("""() => {
        const holder = document.createElement("div");
        holder.innerHTML = '<button id="injected" onclick="window.__ran = true">x</button>';
        document.body.append(holder);
        document.getElementById("injected").click();
        const script = document.createElement("script");
        script.textContent = "window.__ran = true";
        document.body.append(script);
    }""")
    page.wait_for_function("window.__violations.length >= 2")
    assert page.evaluate("window.__ran === undefined")
    assert any(v.startswith("script-src") for v in violations(page))


def test_staff_pages_with_charts_break_no_rule(chromium, writable_server):
    app, base_url = writable_server
    email, password = make_user(app, "admin")
    context, page, outside = open_page(chromium, base_url)
    try:
        errors = watch(page)
        page.goto("/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/staff/$"))
        for path in ("/staff/", "/staff/calls/", "/staff/calls/reports", "/staff/facilities/",
                     "/staff/pool/", "/staff/transfer/", "/staff/guides/1/preview"):
            page.goto(path)
            assert violations(page) == [], path
        assert page.goto("/staff/calls/reports").ok
        assert errors == []
    finally:
        context.close()
    assert outside == []
