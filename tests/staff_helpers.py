"""Helpers for staff-area tests: accounts, logging in through the real form, CSRF tokens.

Tests get CSRF tokens the way a browser does: from the hidden ``csrf_token`` input of a page.
"""

from __future__ import annotations

import itertools
import re
from html import unescape

import sqlalchemy as sa

from finder.accounts.models import Role
from finder.accounts.operations import create_user
from finder.extensions import db

#: Every test account gets this password (long enough for the password rules).
PASSWORD = "correct horse battery staple"
_serial = itertools.count(1)
_CSRF_INPUT = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*>')
_VALUE = re.compile(r'\bvalue="([^"]*)"')


def csrf_token(html: str | bytes) -> str:
    """The value of the first ``csrf_token`` input of a page; AssertionError when none."""
    if isinstance(html, bytes):
        html = html.decode("utf-8")
    tag = _CSRF_INPUT.search(html)
    assert tag, "the page has no csrf_token input"
    value = _VALUE.search(tag.group())
    assert value, "the csrf_token input has no value"
    return unescape(value.group(1))


def page_token(client, path: str = "/login") -> str:
    """A CSRF token for the client's session, read from the page at ``path``."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return csrf_token(response.data)


def make_user(app, role: Role | str = Role.ADMIN, email: str | None = None,
              password: str = PASSWORD) -> tuple[str, str]:
    """Create and commit an account; returns ``(email, password)``."""
    email = email or f"{Role(role).value}{next(_serial)}@example.org"
    with app.app_context():
        create_user(db.session, email=email, password=password, role=Role(role),
                    actor="test")
        db.session.commit()
    return email, password


def login(client, email: str, password: str = PASSWORD, *, next_path: str | None = None):
    """Log in through the /login form with the page's CSRF token; returns the POST response."""
    path = "/login" if next_path is None else f"/login?next={next_path}"
    token = page_token(client, path)
    return client.post(path, data={"csrf_token": token, "email": email, "password": password})


def logged_in_client(app, role: Role | str = Role.ADMIN):
    """A test client logged in as a new account with ``role``; returns ``(client, email)``."""
    email, password = make_user(app, role)
    client = app.test_client()
    response = login(client, email, password)
    assert response.status_code == 302, response.data[:500]
    return client, email


def row_counts(app) -> dict[str, int]:
    """Row counts of every table in the database (whatever the models know about)."""
    with app.app_context():
        engine = db.engine
        names = sa.inspect(engine).get_table_names()
        with engine.connect() as conn:
            return {
                name: conn.execute(
                    sa.select(sa.func.count()).select_from(sa.table(name))
                ).scalar_one()
                for name in sorted(names)
            }


#: A few real ZIP centres (GeoNames coordinates, rounded) for tests on the empty database.
SMALL_GAZETTEER = {
    "22902": ("Charlottesville", "VA", 38.0293, -78.4767, "America/New_York"),
    "22903": ("Charlottesville", "VA", 38.0339, -78.4924, "America/New_York"),
    "23219": ("Richmond", "VA", 37.5407, -77.4360, "America/New_York"),
    "78701": ("Austin", "TX", 30.2713, -97.7426, "America/Chicago"),
}
#: (category code, category plain name, position, [(code, plain label, position)])
SMALL_TAXONOMY = [
    ("PAY", "Payment", 50, [("SF", "Cash or self-payment", 1), ("MD", "Medicaid", 2)]),
    ("TC", "Type of care", 10, [("SA", "Substance use treatment", 2), ("DT", "Detox", 1)]),
]


def add_small_directory(app) -> None:
    """The ZIPs and taxonomy above, for tests that do not need the national data."""
    from finder.directory.models import Service, ServiceCategory
    from finder.geo.models import ZipCode
    from finder.geo.names import city_key

    with app.app_context():
        for zip5, (city, state, lat, lon, tz) in SMALL_GAZETTEER.items():
            db.session.add(ZipCode(zip=zip5, zip_type="STANDARD", city=city,
                                   city_key=city_key(city), state=state, latitude=lat,
                                   longitude=lon, timezone=tz))
        for code, plain, position, services in SMALL_TAXONOMY:
            category = ServiceCategory(code=code, name=plain, plain_name=plain,
                                       position=position)
            db.session.add(category)
            for service_code, label, service_position in services:
                db.session.add(Service(code=service_code, category=category, label=label,
                                       plain_label=label, position=service_position))
        db.session.commit()
