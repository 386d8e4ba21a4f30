"""Twilio request signatures: a voice webhook runs only when ``X-Twilio-Signature`` is valid.

The signature covers the full public URL Twilio requested and, for a POST, the form fields (a GET
is signed on its URL alone, query string included). Behind a TLS proxy the app must see the public
scheme and host, which ``PROXY_FIX_HOPS`` arranges, so ``request.url`` is what Twilio signed.
"""

from __future__ import annotations

import functools
import logging

from flask import Request, Response, current_app, request
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

logger = logging.getLogger(__name__)


def is_signed(req: Request, token: str | None) -> bool:
    """True when ``req`` carries a valid Twilio signature for ``token``."""
    signature = req.headers.get(SIGNATURE_HEADER)
    if not token or not signature:
        return False
    params = req.form if req.method == "POST" else {}
    algorithm = get_signature_algorithm(req.headers.get(SIGNATURE_SETTINGS_HEADER))
    return RequestValidator(token).validate(req.url, params, signature, algorithm=algorithm)


def forbidden() -> Response:
    return Response("Forbidden: invalid or missing Twilio signature.\n", status=403,
                    mimetype="text/plain")


def twilio_signed(view):
    """Answer 403, before the view runs (so nothing changes), unless Twilio signed the request."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        token = current_app.config.get("TWILIO_AUTH_TOKEN")
        if not token:
            logger.error("TWILIO_AUTH_TOKEN is not set: every voice webhook is refused")
        if not is_signed(request, token):
            # The path, not the form: the form holds the caller's number.
            logger.warning("Refused a voice webhook with a bad signature: %s %s",
                           request.method, request.path)
            return forbidden()
        return view(*args, **kwargs)

    return wrapper
