"""Role checks on the server: anonymous visitors go to log in, the wrong role gets 403."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user

from finder.accounts.models import Role

#: Which roles may do what: operators read, admins read and change.
READ_ROLES = frozenset({Role.ADMIN, Role.OPERATOR})
CHANGE_ROLES = frozenset({Role.ADMIN})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _refusal(roles: frozenset[Role]):
    """None when the current user may go on, otherwise the response that stops them."""
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    if current_user.role not in roles:
        abort(403)
    return None


def roles_required(*roles: Role):
    """Decorator for one view."""
    allowed = frozenset(roles)

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            refusal = _refusal(allowed)
            return refusal if refusal is not None else view(*args, **kwargs)

        return wrapped

    return decorator


admin_required = roles_required(Role.ADMIN)
staff_required = roles_required(Role.ADMIN, Role.OPERATOR)


def protect_blueprint(bp: Blueprint, *, read: frozenset[Role] = READ_ROLES,
                      change: frozenset[Role] = CHANGE_ROLES) -> None:
    """Every route of ``bp``: reading needs ``read``, any other method needs ``change``.

    Applied to whole blueprints so that a new route cannot be added without a check.
    """

    @bp.before_request
    def _check_role():
        return _refusal(read if request.method in SAFE_METHODS else change)
