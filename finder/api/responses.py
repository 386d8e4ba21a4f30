"""JSON responses of the public read-only endpoints: key order kept, open to any origin, cached."""

from flask import Blueprint, Response, current_app, request

#: Listings change a few times a day at most; five minutes of caching spares the database.
CACHE_CONTROL = "public, max-age=300"


def json_response(payload: object, status: int = 200) -> Response:
    # Flask's provider sorts keys; the locator's rows must keep the order clients know.
    body = current_app.json.dumps(payload, sort_keys=False, separators=(",", ":"))
    return current_app.response_class(body + "\n", status=status, mimetype="application/json")


def public_read_only(response: Response) -> Response:
    # Public data behind GET only: any site may call it from a browser.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
    if request.method in {"GET", "HEAD"} and response.status_code == 200:
        response.headers.setdefault("Cache-Control", CACHE_CONTROL)
    return response


def install(bp: Blueprint) -> None:
    bp.after_request(public_read_only)
