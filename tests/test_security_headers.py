"""Security headers on every kind of response, and pages that need no inline code to work.

The Content-Security-Policy forbids inline scripts and styles, so a crawl of the public site
and of the staff area checks that no page carries any: no <script> body, no <style>, no on*
event handler, no style= attribute, no javascript: URL. HSTS is sent in production only.
"""

from __future__ import annotations

from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from werkzeug.exceptions import HTTPException

from finder import create_app
from tests.conftest import dispose
from tests.production_helpers import HTTPS, production_app
from tests.staff_helpers import logged_in_client
from tests.voice_helpers import build_pool, call_params, new_call_sid, post, twiml

EXPECTED_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
ONE_YEAR = 365 * 24 * 3600
#: Never crawled: not HTML pages, or pages that change state or take long (whole exports).
SKIPPED_PREFIXES = ("/static", "/api", "/locator", "/voice", "/logout")
SKIPPED_SUFFIXES = (".csv", ".json", ".zip")
#: Each endpoint is crawled at most this many times (facility pages alone number 14,000).
VISITS_PER_ENDPOINT = 2


def csp(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.request.path} has no Content-Security-Policy"
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in directives, f"{name} appears twice"
        directives[name] = sources
    return directives


def assert_security_headers(response, *, hsts: bool = False) -> None:
    path = response.request.path
    policy = csp(response)
    assert policy == EXPECTED_CSP, path
    for directive in ("script-src", "style-src", "default-src"):
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(policy[directive])
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff", path
    assert headers["Referrer-Policy"] in {"strict-origin-when-cross-origin", "same-origin",
                                          "strict-origin", "no-referrer"}, path
    assert headers["X-Frame-Options"] == "DENY", path
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin", path
    permissions = dict(item.strip().split("=", 1)
                       for item in headers["Permissions-Policy"].split(","))
    assert permissions["geolocation"] == "(self)", path  # the "Use my location" button
    assert permissions["camera"] == "()" and permissions["microphone"] == "()", path
    if hsts:
        fields = [f.strip() for f in headers["Strict-Transport-Security"].split(";")]
        max_age = int(next(f for f in fields if f.startswith("max-age="))[len("max-age="):])
        assert max_age >= ONE_YEAR and "includeSubDomains" in fields, path
    else:
        assert "Strict-Transport-Security" not in headers, path


# -- what a page must not contain ------------------------------------------------------------

class InlineCodeFinder(HTMLParser):
    """Collects everything the policy would block: inline scripts, styles and handlers."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and not attributes.get("src"):
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...> event handler")
            if name == "style":
                self.found.append(f"<{tag} style={value!r}>")
            if name in {"href", "src", "action", "formaction"} and (value or "").strip() \
                    .lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])


def inspect(html: str) -> InlineCodeFinder:
    finder = InlineCodeFinder()
    finder.feed(html)
    finder.close()
    return finder


def test_the_inline_code_finder_finds_inline_code():
    """The crawl below can fail: each thing the policy would block is found."""
    page = ('<script>alert(1)</script><script src="/s.js"></script><style>p{}</style>'
            '<p style="color:red" onclick="x()">x</p><a href=" JavaScript:alert(1)">y</a>'
            '<svg><rect style="fill:red"/></svg>')
    found = inspect(page).found
    assert found == [
        "inline <script>", "<style> element", "<p style='color:red'>",
        "<p onclick=...> event handler", "<a href=' JavaScript:alert(1)'>",
        "<rect style='fill:red'>",
    ]
    assert inspect('<script src="/static/locate.js" defer></script>').found == []


def crawl(app, client, starts: list[str], *, within: str = "/", limit: int = 80):
    """GET same-site pages reachable from ``starts``; yields (path, response) for HTML pages."""
    adapter = app.url_map.bind("localhost")
    visits: dict[str, int] = {}
    seen: set[str] = set()
    queue = deque(starts)
    pages = 0
    while queue and pages < limit:
        url = queue.popleft()
        parts = urlsplit(url)
        if url in seen or parts.netloc or parts.scheme:
            continue
        seen.add(url)
        if (not parts.path.startswith(within) or parts.path.startswith(SKIPPED_PREFIXES)
                or parts.path.endswith(SKIPPED_SUFFIXES)):
            continue
        try:
            endpoint, _ = adapter.match(parts.path, method="GET")
        except HTTPException:
            endpoint = None
        if visits.get(endpoint, 0) >= VISITS_PER_ENDPOINT:
            continue
        visits[endpoint] = visits.get(endpoint, 0) + 1
        response = client.get(url)
        pages += 1
        try:
            yield url, response
            if response.mimetype == "text/html":
                for link in inspect(response.get_data(as_text=True)).links:
                    queue.append(urljoin(url, link.split("#")[0]))
        finally:
            response.close()  # downloads are streamed
    assert pages >= min(limit, 10), f"the crawl reached only {pages} pages"


def check_pages(app, client, starts, **kwargs) -> set[str]:
    problems, paths = [], set()
    for url, response in crawl(app, client, starts, **kwargs):
        assert response.status_code in {200, 302, 308, 400, 404}, (url, response.status_code)
        assert_security_headers(response)
        if response.mimetype == "text/html":
            paths.add(urlsplit(url).path)
            problems += [f"{url}: {item}" for item in
                         inspect(response.get_data(as_text=True)).found]
    assert problems == []
    return paths


def test_public_pages_have_no_inline_code(national_app, client):
    paths = check_pages(national_app, client,
                        ["/", "/search?location=22902", "/guides", "/where-do-calls-go",
                         "/login", "/no/such/page"])
    # The crawl really reached the main kinds of page.
    assert {"/", "/search", "/guides", "/where-do-calls-go", "/login"} <= paths
    assert any(p.startswith("/facilities/") and not p.endswith("/report") for p in paths)
    assert any(p.startswith("/facilities/") and p.endswith("/report") for p in paths)
    assert any(p.startswith("/guides/") for p in paths)


def test_staff_pages_have_no_inline_code(seeded_app):
    for role in ("admin", "operator"):
        client, _ = logged_in_client(seeded_app, role)
        paths = check_pages(seeded_app, client, ["/staff/"], within="/staff", limit=60)
        assert {"/staff/", "/staff/calls/", "/staff/changes/"} <= paths
        if role == "admin":
            assert {"/staff/facilities/", "/staff/numbers/", "/staff/pool/"} <= paths


# -- every kind of response carries the headers ------------------------------------------------

def test_json_static_and_error_responses_carry_the_headers(client):
    for path, status, mimetype in [
        ("/api/v1/facilities?location=22902", 200, "application/json"),
        ("/api/v1/openapi.json", 200, "application/json"),
        ("/locator/exportsAsJson/v2?sAddr=38.03,-78.48&limitType=2&limitValue=10000", 200,
         "application/json"),
        ("/api/v1/facilities?lat=100&lon=0", 400, "application/json"),
        ("/api/v1/no-such-thing", 404, "application/json"),
        ("/static/site.css", 200, "text/css"),
        ("/no/such/page", 404, "text/html"),
    ]:
        with client.get(path) as response:  # static files are streamed: close them
            assert (response.status_code, response.mimetype) == (status, mimetype), path
            assert_security_headers(response)
    with client.get("/static/locate.js") as script:
        assert script.status_code == 200 and script.mimetype.endswith("javascript")
        assert_security_headers(script)
    # The API stays open to other sites' scripts: the headers do not replace its CORS header.
    api = client.get("/api/v1/facilities?location=22902")
    assert api.headers["Access-Control-Allow-Origin"] == "*"
    refused = client.post("/")
    assert refused.status_code == 405
    assert_security_headers(refused)


def test_voice_webhooks_still_answer_twiml_with_the_headers(app):
    pool = build_pool(app)
    client = app.test_client()
    response = post(client, "/voice/incoming", call_params(new_call_sid(), pool.helpline_number))
    root = twiml(response)  # status 200, text/xml, a <Response> document
    assert root.find("Dial") is not None or root.find("Gather") is not None
    assert_security_headers(response)
    unsigned = post(client, "/voice/incoming", call_params(new_call_sid(), pool.helpline_number),
                    sign=False)
    assert unsigned.status_code == 403
    assert_security_headers(unsigned)


def test_a_view_may_override_one_header(app):
    def framed():
        return "ok", 200, {"X-Frame-Options": "SAMEORIGIN"}

    app.add_url_rule("/framed", view_func=framed)
    response = app.test_client().get("/framed")
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert csp(response) == EXPECTED_CSP


# -- HSTS: production only ----------------------------------------------------------------------

def test_hsts_only_in_production(monkeypatch, databases, migrated_template):
    prod = production_app(monkeypatch, databases.new(template=migrated_template))
    try:
        client = prod.test_client()
        for path in ("/login", "/api/v1/no-such-thing", "/static/site.css", "/no/such/page"):
            with client.get(path, base_url=HTTPS) as response:
                assert_security_headers(response, hsts=True)
    finally:
        dispose(prod)
    for name in ("development", "testing"):
        other = create_app(name, {"SQLALCHEMY_DATABASE_URI":
                                  databases.new(template=migrated_template)})
        try:
            assert_security_headers(other.test_client().get("/login"), hsts=False)
        finally:
            dispose(other)


@pytest.mark.parametrize("header", ["Content-Security-Policy", "X-Frame-Options"])
def test_headers_are_sent_once(client, header):
    assert len(client.get("/").headers.getlist(header)) == 1
