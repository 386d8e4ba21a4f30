"""JSON errors of the public API: one shape for every refusal, naming the parameter at fault."""

from __future__ import annotations

from flask import Blueprint, Response

from finder.api.responses import json_response


class ApiError(Exception):
    """A request the API refuses; ``parameter`` names the query parameter to fix, if any."""

    def __init__(
        self,
        message: str,
        *,
        parameter: str | None = None,
        status: int = 400,
        **extra: object,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter
        self.status = status
        self.extra = extra


def error_body(status: int, message: str, parameter: str | None = None, **extra: object) -> dict:
    error: dict[str, object] = {"status": status, "message": message}
    if parameter is not None:
        error["parameter"] = parameter
    error.update(extra)
    return {"error": error}


def error_response(error: ApiError) -> Response:
    body = error_body(error.status, error.message, error.parameter, **error.extra)
    return json_response(body, error.status)


def install(bp: Blueprint) -> None:
    """Answer the blueprint's ``ApiError`` with the JSON error shape."""
    bp.register_error_handler(ApiError, error_response)
