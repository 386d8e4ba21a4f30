"""Log in and log out. Login is rate-limited per address and per account."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import login_required, login_user, logout_user

from finder.accounts.forms import LoginForm
from finder.accounts.operations import authenticate, normalize_email
from finder.extensions import db, limiter

bp = Blueprint("accounts", __name__)


def _account_key() -> str:
    return "account:" + normalize_email(request.form.get("email", ""))[:254]


#: Longer ``next`` values are not pages of this site (and would make a huge Location header).
MAX_NEXT_LENGTH = 2000


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host, scheme or a protocol-relative URL.

    Browsers read a backslash as a slash and drop tabs and newlines, so ``/\\evil.example``
    and ``/<tab>/evil.example`` lead off-site: any backslash, space or control character is
    refused. Paths finder builds for ``next`` are percent-encoded and never contain them.
    """
    if not target or len(target) > MAX_NEXT_LENGTH:
        return None
    if any(char == "\\" or char.isspace() or ord(char) < 32 or ord(char) == 127
           for char in target):
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    try:
        parts = urlsplit(target)
    except ValueError:  # such as an unclosed "[" of an IPv6 host
        return None
    return None if parts.scheme or parts.netloc else target


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_account_key)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db.session, form.email.data, form.password.data)
        if user is not None:
            db.session.commit()
            # A fresh session: nothing planted before login (session fixation) carries over.
            session.clear()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("staff.home"))
        form.password.errors.append("Wrong email or password.")
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
    flash("You are logged out.")
    return redirect(url_for("directory.home"))
