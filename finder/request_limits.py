"""Per-endpoint request body limits, set before any hook reads the body (the CSRF check does)."""

from flask import Flask, request

#: Endpoints allowed a larger body than MAX_CONTENT_LENGTH, and the setting giving their limit.
LARGER_BODIES = {"transfer.upload": "IMPORT_MAX_BYTES"}


def install(app: Flask) -> None:
    """Register the hook; call it before CSRFProtect.init_app so it runs first."""

    @app.before_request
    def _larger_body_limit():
        setting = LARGER_BODIES.get(request.endpoint or "")
        if setting:
            request.max_content_length = app.config[setting]
