"""A live server for the seeded directory and a real headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import IN_CI

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium():
    if not shutil.which(CHROMIUM):
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="session")
def live_server(national_app):
    """The seeded directory, read-only."""
    server, thread, url = serve(national_app)
    yield url
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def writable_server(seeded_app):
    """A private copy of the seeded directory that a test may change (e.g. as an admin)."""
    server, thread, url = serve(seeded_app)
    yield seeded_app, url
    server.shutdown()
    thread.join(timeout=5)


def open_page(chromium, base_url):
    context = chromium.new_context(viewport={"width": 390, "height": 844}, base_url=base_url)
    page = context.new_page()
    outside = []
    page.on(
        "request",
        lambda request: outside.append(request.url)
        if not request.url.startswith(base_url) and not request.url.startswith("data:")
        else None,
    )
    return context, page, outside


@pytest.fixture
def page(chromium, live_server):
    context, page, outside = open_page(chromium, live_server)
    yield page
    context.close()
    assert outside == [], f"the page made third-party requests: {outside}"
