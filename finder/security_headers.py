"""Security headers on every response: a strict Content-Security-Policy and its companions.

Templates carry no inline scripts, styles or event handlers (tests/test_security_headers.py
checks the rendered pages), so the policy allows only finder's own files. HSTS is sent only when
``HSTS_SECONDS`` is set, which ProductionConfig does: development and tests run on plain http.
"""

from __future__ import annotations

from flask import Flask, Response

#: Each directive is as strict as the pages allow: data: images only for inline SVG icons.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

#: Geolocation stays on for finder itself: the "Use my location" button asks for it.
PERMISSIONS_POLICY = {
    "geolocation": "(self)",
    "camera": "()",
    "microphone": "()",
    "payment": "()",
    "usb": "()",
}


def csp_header(policy: dict[str, str] = CONTENT_SECURITY_POLICY) -> str:
    return "; ".join(f"{directive} {sources}" for directive, sources in policy.items())


def permissions_header(policy: dict[str, str] = PERMISSIONS_POLICY) -> str:
    return ", ".join(f"{feature}={allowed}" for feature, allowed in policy.items())


def headers_for(config) -> dict[str, str]:
    """The headers every response gets under ``config``."""
    headers = {
        "Content-Security-Policy": csp_header(),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": permissions_header(),
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    hsts_seconds = int(config.get("HSTS_SECONDS") or 0)
    if hsts_seconds > 0:
        headers["Strict-Transport-Security"] = f"max-age={hsts_seconds}; includeSubDomains"
    return headers


def install(app: Flask) -> None:
    """Add the headers to every response, error pages, static files and webhooks included."""
    headers = headers_for(app.config)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        # setdefault: a view that needs a different value for one header can still set it.
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response
