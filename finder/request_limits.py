"""Per-endpoint request body limits, set before any hook reads the body (the CSRF check does)."""

from flask import Flask, abort, request

#: Endpoints allowed a larger body than MAX_CONTENT_LENGTH, and the setting giving their limit.
LARGER_BODIES = {"transfer.upload": "IMPORT_MAX_BYTES"}


def install(app: Flask) -> None:
    """Register the hook; call it before CSRFProtect.init_app so it runs first."""

    @app.before_request
    def _larger_body_limit():
        setting = LARGER_BODIES.get(request.endpoint or "")
        if setting:
            request.max_content_length = app.config[setting]
        # Refused from its declared length, before anything reads it: even a view that never
        # reads the body (a GET to the API, a 405) does not accept an oversized upload.
        limit = request.max_content_length
        if limit is not None and (request.content_length or 0) > limit:
            abort(413)
