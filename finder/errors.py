"""Error responses: friendly HTML pages for visitors, JSON for the API and locator paths."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from jinja2 import TemplateNotFound
from werkzeug.exceptions import HTTPException

JSON_PATH_PREFIXES = ("/api/", "/locator/")

MESSAGES = {
    400: "The request could not be understood.",
    404: "We couldn't find that page.",
    405: "That method is not allowed here.",
    413: "That request is too large.",
    429: "Too many requests. Please wait a moment and try again.",
    500: "Something went wrong on our side.",
}


def wants_json() -> bool:
    path = request.path
    return any(path.startswith(p) or path == p.rstrip("/") for p in JSON_PATH_PREFIXES)


def _message(error: HTTPException, code: int) -> str:
    # Werkzeug's own descriptions speak of "the server" and "the URL"; ours speak to visitors.
    # A view that aborts with its own description keeps it.
    default = type(error).description
    if error.description and error.description != default:
        return error.description
    return MESSAGES.get(code) or error.name


def handle_http_error(error: HTTPException):
    code = error.code or 500
    headers = [(k, v) for k, v in error.get_headers() if k.lower() == "allow"]
    message = _message(error, code)
    if wants_json():
        response = jsonify({"error": {"status": code, "message": message}})
        return response, code, headers
    try:
        html = render_template(f"errors/{code}.html", error=error, message=message, code=code)
    except TemplateNotFound:
        html = render_template("errors/error.html", error=error, message=message, code=code)
    return html, code, headers


def register(app: Flask) -> None:
    # Flask wraps an unhandled exception in InternalServerError (outside debug and testing,
    # which re-raise it), so this one handler also answers 500s.
    app.register_error_handler(HTTPException, handle_http_error)
