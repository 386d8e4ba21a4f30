"""Role checks on every staff route, found in the app's URL map (so later routes are covered).

A staff blueprint is any blueprint with a URL rule under /staff. For each of its rules:
anonymous visitors are sent to log in (a POST without a CSRF token is refused first, with 400,
by the app-wide CSRF check, unless its view is exempt and checks the token itself); operators
may read (GET) but get 403 on any change; admins may read. Operators' refused changes leave
every table's row count as it was.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from werkzeug.routing import Rule

from finder.accounts.models import Role
from finder.changes.models import ChangeEntry
from finder.extensions import db
from finder.moderation.operations import submit_report
from tests.factories import make_advertiser, make_facility, make_pool, make_tracking_number
from tests.staff_helpers import (
    add_small_directory,
    csrf_token,
    logged_in_client,
    page_token,
    row_counts,
)

CHANGE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_ARGUMENT = re.compile(r"<(?:(?P<converter>[a-zA-Z_]\w*)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")


def staff_blueprints(app) -> set[str]:
    """Blueprints with a /staff prefix, or with any rule under /staff (however registered)."""
    names = {name for name, bp in app.blueprints.items()
             if (bp.url_prefix or "").startswith("/staff")}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/staff") and "." in rule.endpoint:
            names.add(rule.endpoint.rsplit(".", 1)[0])
    return names


def staff_rules(app) -> list[Rule]:
    names = staff_blueprints(app)
    return sorted((rule for rule in app.url_map.iter_rules()
                   if "." in rule.endpoint and rule.endpoint.rsplit(".", 1)[0] in names),
                  key=lambda rule: rule.rule)


def _fallback(converter: str | None, args: str | None):
    if converter == "int":
        return 1
    if converter == "float":
        return 1.0
    if converter == "uuid":
        return uuid.UUID(int=1)
    if converter == "any" and args:
        return args.split(",")[0].strip().strip("'\"")
    return "x"


@dataclass
class Site:
    app: object
    values: dict

    def url(self, rule: Rule) -> str:
        """The rule's URL with existing rows' ids where we know the argument, else a guess
        (the row probably does not exist: 404 is then an acceptable answer)."""
        values = {}
        for match in _ARGUMENT.finditer(rule.rule):
            name = match.group("name")
            values[name] = self.values.get(name, _fallback(match.group("converter"),
                                                           match.group("args")))
        built = rule.build(values, append_unknown=False)
        assert built is not None, rule.rule
        return built[1]


@pytest.fixture
def site(app):
    """One row of each kind a staff page shows, so its URL can name a real id."""
    add_small_directory(app)
    with app.app_context():
        facility = make_facility(db.session, zip="22902")
        pool = make_pool(db.session)
        advertiser = make_advertiser(db.session, pool)
        number = make_tracking_number(db.session, facility=facility)
        report = submit_report(db.session, facility, problem="phone", message="Wrong number",
                               suggested_phone="+14345550170")
        db.session.commit()
        values = {
            "facility_id": facility.id, "slug": facility.slug, "pool_id": pool.id,
            "advertiser_id": advertiser.id, "number_id": number.id, "report_id": report.id,
        }
    return Site(app, values)


def _with_entry(site: Site) -> Site:
    """Logging users in created change entries (account creation); name one."""
    with site.app.app_context():
        entry_id = db.session.execute(db.select(db.func.max(ChangeEntry.id))).scalar_one()
    assert entry_id is not None
    site.values["entry_id"] = entry_id
    return site


@dataclass(frozen=True)
class Answer:
    status_code: int
    location: str


def ask(client, method: str, url: str, **kwargs) -> Answer:
    """Status and Location of a request; the response is closed (downloads hold files open)."""
    response = client.open(url, method=method, **kwargs)
    try:
        return Answer(response.status_code, response.headers.get("Location", ""))
    finally:
        response.close()


def _is_login_redirect(answer: Answer) -> bool:
    return answer.status_code == 302 and answer.location.startswith("/login")


def test_the_walk_finds_the_staff_routes(app):
    rules = staff_rules(app)
    endpoints = {rule.endpoint for rule in rules}
    # The shell and this feature's pages at least; other features' pages are found the same way.
    assert {"staff.home", "listings.index", "listings.edit", "listings.close",
            "moderation_admin.queue", "moderation_admin.apply"} <= endpoints
    # The public report form is not a staff page.
    assert "moderation.report" not in endpoints
    assert all(any(m in rule.methods for m in ("GET", *CHANGE_METHODS)) for rule in rules)


def test_anonymous_visitors_are_sent_to_log_in(site):
    app = site.app
    client = app.test_client()
    token = page_token(client, "/login")  # a valid token, from a public page
    before = row_counts(app)
    problems = []
    for rule in staff_rules(app):
        url = site.url(rule)
        if "GET" in rule.methods:
            response = ask(client, "GET", url)
            if not _is_login_redirect(response):
                problems.append(f"GET {url}: {response.status_code}")
            elif "next=" not in response.location:
                problems.append(f"GET {url}: login redirect without next")
        for method in CHANGE_METHODS:
            if method not in rule.methods:
                continue
            response = ask(client, method, url)
            # The app-wide CSRF check runs before the role check and refuses with 400; a view
            # exempt from it (it checks its form's token itself) is refused by the role check.
            if response.status_code != 400 and not _is_login_redirect(response):
                problems.append(f"{method} {url} without token: {response.status_code}")
            response = ask(client, method, url, data={"csrf_token": token})
            if not _is_login_redirect(response):
                problems.append(f"{method} {url} with token: {response.status_code}")
    assert problems == []
    assert row_counts(app) == before


def test_operators_read_but_every_change_is_403(site):
    app = site.app
    admin, _ = logged_in_client(app, Role.ADMIN)
    operator, _ = logged_in_client(app, Role.OPERATOR)
    _with_entry(site)
    token = csrf_token(operator.get("/staff/").data)
    before = row_counts(app)
    problems = []
    for rule in staff_rules(app):
        url = site.url(rule)
        if "GET" in rule.methods:
            response = ask(operator, "GET", url)
            expected = {200, 404, ask(admin, "GET", url).status_code} - {302, 403, 500}
            if response.status_code not in expected or response.status_code >= 500:
                problems.append(f"GET {url}: {response.status_code}")
        for method in CHANGE_METHODS:
            if method in rule.methods:
                response = ask(operator, method, url, data={"csrf_token": token})
                if response.status_code != 403:
                    problems.append(f"{method} {url}: {response.status_code}")
                after = row_counts(app)
                if after != before:
                    changed = {k: (before[k], after.get(k)) for k in before
                               if before[k] != after.get(k)}
                    problems.append(f"{method} {url} changed rows: {changed}")
                    before = after
    assert problems == []


def test_admins_read_every_page(site):
    app = site.app
    admin, _ = logged_in_client(app, Role.ADMIN)
    _with_entry(site)
    problems = []
    for rule in staff_rules(app):
        if "GET" not in rule.methods:
            continue
        url = site.url(rule)
        response = ask(admin, "GET", url)
        if response.status_code in (403, 500) or _is_login_redirect(response):
            problems.append(f"GET {url}: {response.status_code}")
        elif response.status_code == 404 and rule.arguments <= set(site.values):
            problems.append(f"GET {url}: 404 for a row that exists")
    assert problems == []


def test_admin_posts_with_nothing_filled_in_never_fail_with_500(site):
    app = site.app
    admin, _ = logged_in_client(app, Role.ADMIN)
    _with_entry(site)
    token = csrf_token(admin.get("/staff/").data)
    problems = []
    for rule in staff_rules(app):
        url = site.url(rule)
        for method in CHANGE_METHODS:
            if method in rule.methods:
                response = ask(admin, method, url, data={"csrf_token": token})
                if response.status_code >= 500 or response.status_code == 403:
                    problems.append(f"{method} {url}: {response.status_code}")
    assert problems == []


def test_ids_beyond_the_integer_columns_are_404(site):
    """Whatever number is typed into a URL, the answer is never a database error."""
    app = site.app
    admin, _ = logged_in_client(app, Role.ADMIN)
    token = csrf_token(admin.get("/staff/").data)
    problems = []
    checked = 0
    for rule in staff_rules(app):
        ints = [m.group("name") for m in _ARGUMENT.finditer(rule.rule)
                if m.group("converter") == "int"]
        if not ints:
            continue
        for huge in (2**31, 2**63, 10**20):
            url = _with_number(rule, site, huge)
            for method in ("GET", *CHANGE_METHODS):
                if method in rule.methods:
                    checked += 1
                    data = {"csrf_token": token} if method != "GET" else None
                    answer = ask(admin, method, url, data=data)
                    if answer.status_code != 404:
                        problems.append(f"{method} {url}: {answer.status_code}")
    assert checked and problems == []


def _with_number(rule: Rule, site: Site, number: int) -> str:
    """The rule's URL with every integer argument set to ``number``."""
    path = rule.rule
    for match in _ARGUMENT.finditer(rule.rule):
        if match.group("converter") == "int":
            path = path.replace(match.group(0), str(number))
        else:
            value = site.values.get(match.group("name"),
                                    _fallback(match.group("converter"), match.group("args")))
            path = path.replace(match.group(0), str(value))
    return path
