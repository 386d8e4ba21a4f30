"""Staff accounts: creating them from the shell, logging in and out, limits, cookies, redirects."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from config import Config, ProductionConfig
from finder.accounts.models import Role, User
from finder.accounts.passwords import verify_password
from finder.changes.models import ChangeEntry
from finder.extensions import db
from tests.conftest import dispose, make_app
from tests.staff_helpers import PASSWORD, csrf_token, login, make_user, page_token

STRONG = "plough badger lantern 42"


@pytest.fixture
def app(databases, migrated_template):
    """A fresh database, with a login limit low enough to reach in a test."""
    app = make_app(databases.new(template=migrated_template), LOGIN_RATE_LIMIT="3 per minute")
    yield app
    dispose(app)


def users(app) -> list[User]:
    with app.app_context():
        rows = db.session.execute(select(User).order_by(User.id)).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return rows


def logged_in(client) -> bool:
    with client.session_transaction() as session:
        return "_user_id" in session


# -- flask users create ------------------------------------------------------------------------


def test_there_is_no_default_account(app):
    assert users(app) == []
    client = app.test_client()
    for email, password in (("admin@example.org", "admin"), ("admin", "password"),
                            ("admin@localhost", "admin")):
        response = login(client, email, password)
        assert response.status_code == 400
        assert not logged_in(client)


def test_users_create_prompts_for_the_password(app, runner):
    result = runner.invoke(args=["users", "create", "--email", "Ada@Example.org",
                                 "--role", "admin"], input=f"{STRONG}\n{STRONG}\n")
    assert result.exit_code == 0, result.output
    assert "Password" in result.output and STRONG not in result.output
    [user] = users(app)
    assert user.email == "ada@example.org" and user.role == Role.ADMIN
    assert user.password_hash.startswith("$argon2id$") and STRONG not in user.password_hash
    assert verify_password(user.password_hash, STRONG)
    with app.app_context():
        [entry] = db.session.execute(select(ChangeEntry)).scalars().all()
        assert (entry.entity, entry.action, entry.actor) == (
            "user", "create", "cli:flask users create")
        assert "password_hash" not in entry.after
    listed = runner.invoke(args=["users", "list"])
    assert "ada@example.org\tadmin" in listed.output


def test_users_create_takes_no_password_option(runner):
    result = runner.invoke(args=["users", "create", "--email", "a@example.org", "--role",
                                 "admin", "--password", STRONG])
    assert result.exit_code != 0


@pytest.mark.parametrize("password, message", [
    ("pw", "Use at least 12 characters."),
    ("aaaaaaaaaaaaaaaa", "Use a less repetitive password."),
    ("bob@example.org", "Do not use your email address as your password."),
])
def test_users_create_rejects_weak_passwords(app, runner, password, message):
    result = runner.invoke(args=["users", "create", "--email", "bob@example.org", "--role",
                                 "operator"], input=f"{password}\n{password}\n")
    assert result.exit_code != 0
    assert message in result.output
    assert users(app) == []


def test_users_create_rejects_mismatched_confirmation(app, runner):
    result = runner.invoke(args=["users", "create", "--email", "bob@example.org", "--role",
                                 "operator"], input=f"{STRONG}\nsomething else 1\n" * 3)
    assert result.exit_code != 0
    assert users(app) == []


def test_users_create_rejects_duplicates(app, runner):
    args = ["users", "create", "--email", "dup@example.org", "--role", "operator"]
    assert runner.invoke(args=args, input=f"{STRONG}\n{STRONG}\n").exit_code == 0
    again = runner.invoke(args=["users", "create", "--email", "DUP@example.org ", "--role",
                                "admin"], input=f"{STRONG}\n{STRONG}\n")
    assert again.exit_code != 0
    assert "already exists" in again.output
    [user] = users(app)
    assert user.role == Role.OPERATOR


def test_users_create_rejects_unknown_role(app, runner):
    result = runner.invoke(args=["users", "create", "--email", "x@example.org", "--role",
                                 "root"], input=f"{STRONG}\n{STRONG}\n")
    assert result.exit_code != 0
    assert users(app) == []


# -- logging in and out ------------------------------------------------------------------------


def test_login_with_the_pages_csrf_token(app):
    email, password = make_user(app, Role.OPERATOR)
    client = app.test_client()
    page = client.get("/login")
    assert page.status_code == 200
    response = client.post("/login", data={"csrf_token": csrf_token(page.data),
                                           "email": email.upper(), "password": password})
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"
    assert logged_in(client)
    assert client.get("/staff/").status_code == 200
    [user] = users(app)
    assert user.last_login_at is not None


def test_login_without_csrf_token_is_refused(app):
    email, password = make_user(app)
    client = app.test_client()
    client.get("/login")
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 400
    assert not logged_in(client)


@pytest.mark.parametrize("which", ["wrong password", "unknown account"])
def test_wrong_credentials_give_400_and_no_session(app, which):
    email, _ = make_user(app)
    client = app.test_client()
    if which == "unknown account":
        email = "nobody@example.org"
    response = login(client, email, "not the password at all")
    assert response.status_code == 400
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert not logged_in(client)
    staff = client.get("/staff/")
    assert staff.status_code == 302 and staff.headers["Location"].startswith("/login")


def test_deactivated_accounts_cannot_log_in(app):
    email, password = make_user(app)
    with app.app_context():
        db.session.execute(db.update(User).values(active=False))
        db.session.commit()
    client = app.test_client()
    assert login(client, email, password).status_code == 400
    assert not logged_in(client)


def test_login_is_rate_limited_per_address(app):
    email, password = make_user(app)
    client = app.test_client()
    token = page_token(client)
    for n in range(3):  # different accounts from one address
        response = client.post("/login", data={"csrf_token": token,
                                               "email": f"guess{n}@example.org",
                                               "password": "wrong password 1"})
        assert response.status_code == 400
    response = client.post("/login", data={"csrf_token": token, "email": email,
                                           "password": password})
    assert response.status_code == 429  # even the right password, once the limit is reached
    assert not logged_in(client)
    # Another address can still log in.
    other = app.test_client()
    address = {"REMOTE_ADDR": "198.51.100.9"}
    token = csrf_token(other.get("/login", environ_base=address).data)
    response = other.post("/login", data={"csrf_token": token, "email": email,
                                          "password": password}, environ_base=address)
    assert response.status_code == 302


def test_login_is_rate_limited_per_account(app):
    email, password = make_user(app)
    for n in range(3):  # one account, guessed at from three addresses
        client = app.test_client()
        address = {"REMOTE_ADDR": f"203.0.113.{n + 1}"}
        token = csrf_token(client.get("/login", environ_base=address).data)
        response = client.post("/login", data={"csrf_token": token, "email": email,
                                               "password": "wrong password 1"},
                               environ_base=address)
        assert response.status_code == 400
    client = app.test_client()
    address = {"REMOTE_ADDR": "203.0.113.200"}
    token = csrf_token(client.get("/login", environ_base=address).data)
    response = client.post("/login", data={"csrf_token": token, "email": email.upper(),
                                           "password": password}, environ_base=address)
    assert response.status_code == 429
    assert not logged_in(client)


def test_logout_is_a_post_with_csrf(app):
    email, password = make_user(app)
    client = app.test_client()
    assert login(client, email, password).status_code == 302
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no token
    assert logged_in(client)
    token = csrf_token(client.get("/staff/").data)
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert not logged_in(client)
    assert client.get("/staff/").status_code == 302


@pytest.mark.parametrize("target", [
    "//evil.example",
    "https://evil.example",
    "http://evil.example/staff/",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "javascript:alert(1)",
    "evil.example",
    "///evil.example",
])
def test_login_never_redirects_off_site(app, target):
    email, password = make_user(app)
    client = app.test_client()
    response = login(client, email, password, next_path=quote(target, safe=""))
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"


def test_login_follows_a_local_next(app):
    email, password = make_user(app)
    client = app.test_client()
    redirected = client.get("/staff/reports/?status=open")
    assert redirected.status_code == 302
    login_path = redirected.headers["Location"]
    token = csrf_token(client.get(login_path).data)
    response = client.post(login_path, data={"csrf_token": token, "email": email,
                                             "password": password})
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/reports/?status=open"


# -- cookies -----------------------------------------------------------------------------------


def test_session_cookie_is_httponly_and_samesite_lax(app):
    email, password = make_user(app)
    client = app.test_client()
    response = login(client, email, password)
    cookies = [v for k, v in response.headers.items() if k.lower() == "set-cookie"]
    session_cookie = next(c for c in cookies if c.startswith("session="))
    attributes = [part.strip().lower() for part in session_cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert Config.SESSION_COOKIE_HTTPONLY is True and Config.SESSION_COOKIE_SAMESITE == "Lax"


def test_production_cookies_are_secure():
    assert ProductionConfig.SESSION_COOKIE_SECURE is True
    assert getattr(Config, "SESSION_COOKIE_SECURE", False) is False  # development works on http


def test_passwords_are_never_stored_in_the_clear(app):
    make_user(app, password=PASSWORD)
    with app.app_context():
        count = db.session.execute(
            select(func.count()).select_from(User).where(User.password_hash.contains("horse"))
        ).scalar_one()
    assert count == 0
