"""Production never shows a stack trace: the site's own 500 page, or JSON on the API paths.

Each test builds the app in the production configuration (with its secrets in the environment,
as a deployment has them) and adds routes that fail the way real code fails.
"""

from __future__ import annotations

import logging
import os

import pytest
import sqlalchemy as sa
from flask.cli import ScriptInfo
from flask.helpers import get_debug_flag

from finder.extensions import db
from tests.conftest import dispose
from tests.production_helpers import HTTPS, production_app

SECRET_DETAIL = "secret detail 7f3a"
#: Text any traceback, debugger page or database error would show.
LEAKS = ("Traceback", "RuntimeError", SECRET_DETAIL, "werkzeug", "Werkzeug", "__debugger__",
         'File "', ".py", "no_such_table", "SELECT secret", "sqlalchemy", "psycopg", "sqlite3")
JSON_ERROR_500 = {"error": {"status": 500, "message": "Something went wrong on our side."}}


def boom():
    raise RuntimeError(SECRET_DETAIL)


def bad_query():
    db.session.execute(sa.text("SELECT secret FROM no_such_table"))
    return "unreachable"


def add_failing_routes(app) -> None:
    for prefix in ("", "/api/v1", "/locator", "/staff"):
        app.add_url_rule(f"{prefix}/boom", f"boom{prefix}", view_func=boom)
        app.add_url_rule(f"{prefix}/bad-query", f"bad_query{prefix}", view_func=bad_query)


@pytest.fixture
def prod(monkeypatch, databases, migrated_template):
    app = production_app(monkeypatch, databases.new(template=migrated_template))
    add_failing_routes(app)
    yield app
    dispose(app)


def assert_no_leak(response) -> None:
    body = response.get_data(as_text=True)
    leaked = [text for text in LEAKS if text in body]
    assert leaked == [], body[:2000]


def assert_site_page(response, status: int, heading: str) -> None:
    assert response.status_code == status
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    # The site's own layout: its stylesheet, the helplines, the footer credits.
    assert "/static/site.css" in body and "tel:988" in body and "site-footer" in body
    assert heading in body
    assert_no_leak(response)


def test_production_is_never_in_debug_mode(prod):
    assert prod.debug is False and prod.testing is False
    assert prod.config["PROPAGATE_EXCEPTIONS"] is False


@pytest.mark.parametrize("path", ["/boom", "/bad-query", "/staff/boom", "/staff/bad-query"])
def test_a_failing_page_shows_the_sites_500_page(prod, path, caplog):
    with caplog.at_level(logging.ERROR):
        response = prod.test_client().get(path, base_url=HTTPS)
    assert_site_page(response, 500, "Something went wrong")
    # The details go to the log for the operators, not to the visitor.
    assert any(record.exc_info for record in caplog.records)


@pytest.mark.parametrize("path", ["/api/v1/boom", "/api/v1/bad-query", "/locator/boom",
                                  "/locator/bad-query"])
def test_a_failing_api_call_answers_json(prod, path):
    response = prod.test_client().get(path, base_url=HTTPS)
    assert response.status_code == 500
    assert response.mimetype == "application/json"
    assert response.get_json() == JSON_ERROR_500
    assert_no_leak(response)


def test_flask_debug_is_ignored_in_production(monkeypatch, databases, migrated_template):
    monkeypatch.setenv("FLASK_DEBUG", "1")
    url = databases.new(template=migrated_template)
    app = production_app(monkeypatch, url)
    try:
        add_failing_routes(app)
        assert app.debug is False and os.environ["FLASK_DEBUG"] == "0"
        response = app.test_client().get("/boom", base_url=HTTPS)
        assert_site_page(response, 500, "Something went wrong")
    finally:
        dispose(app)

    # `flask run` reads FLASK_DEBUG again after loading the app (and `--debug` sets it): its
    # debugger, which runs any code it is sent, must stay off too.
    monkeypatch.setenv("FLASK_DEBUG", "1")
    loaded = ScriptInfo(create_app=lambda: production_app(monkeypatch, url)).load_app()
    try:
        assert loaded.debug is False and get_debug_flag() is False
    finally:
        dispose(loaded)


def test_development_keeps_flask_debug(monkeypatch, databases, migrated_template):
    """The override is production's alone: a developer's FLASK_DEBUG=1 still works."""
    from finder import create_app

    monkeypatch.setenv("FLASK_DEBUG", "1")
    loaded = ScriptInfo(create_app=lambda: create_app(
        "development", {"SQLALCHEMY_DATABASE_URI": databases.new(template=migrated_template)}
    )).load_app()
    try:
        assert loaded.debug is True and get_debug_flag() is True
    finally:
        dispose(loaded)


# -- the other errors are clean too ---------------------------------------------------------------

def test_not_found_and_wrong_method(prod):
    client = prod.test_client()
    assert_site_page(client.get("/no/such/page", base_url=HTTPS), 404, "Page not found")
    wrong = client.delete("/", base_url=HTTPS)
    assert_site_page(wrong, 405, "not allowed")
    assert "GET" in wrong.headers["Allow"]
    for path, method, status in [("/api/v1/no-such-thing", "get", 404),
                                 ("/locator/no-such-thing", "get", 404),
                                 ("/api/v1/facilities", "post", 405),
                                 ("/locator/exportsAsJson/v2", "delete", 405)]:
        response = getattr(client, method)(path, base_url=HTTPS)
        assert response.status_code == status and response.mimetype == "application/json"
        assert response.get_json()["error"]["status"] == status
        assert_no_leak(response)


def test_too_large_requests(prod):
    client = prod.test_client()
    big = {"email": "x" * (1024 * 1024 + 1)}
    page = client.post("/login", data=big, base_url=HTTPS)
    assert_site_page(page, 413, "too large")
    for path in ("/api/v1/facilities", "/locator/exportsAsJson/v2"):
        response = client.post(path, data=big, base_url=HTTPS)
        assert response.status_code == 413 and response.mimetype == "application/json"
        assert response.get_json()["error"]["status"] == 413
