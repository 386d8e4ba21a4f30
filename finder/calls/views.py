"""Twilio voice webhooks under /voice: signature-checked, CSRF-exempt, always answered with TwiML.

Views only translate HTTP: the steps live in ``flow.py`` (run by ``steps.py``) and the wording
in ``twiml.py``.

``/voice/fallback`` (Twilio's fallback URL) is checked like every other route: Twilio signs
fallback requests too, and checking needs only the token in the configuration, never the
database. An unsigned request there gets 403 like anywhere else. The trade-off: with a wrong
``TWILIO_AUTH_TOKEN`` the fallback refuses as well, so refusals are logged as warnings.
"""

from __future__ import annotations

import logging
import math
import time
import traceback
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, request, url_for

from finder.calls import flow, steps
from finder.calls.caller import redact
from finder.calls.routing import RoutingSettings
from finder.calls.signature import twilio_signed
from finder.calls.spool import spool_for
from finder.calls.twiml import FALLBACK_TWIML
from finder.extensions import db

bp = Blueprint("voice", __name__, url_prefix="/voice")
logger = logging.getLogger(__name__)
TWIML_MIMETYPE = "text/xml"


def now() -> datetime:
    """The routing clock: ``CLOCK`` in the config (tests set it), else the current UTC time.

    Always UTC: SQLite keeps times as naive text, compared correctly only in one zone.
    """
    clock = current_app.config.get("CLOCK")
    return (clock() if clock else datetime.now(UTC)).astimezone(UTC)


def _url(endpoint: str, **query) -> str:
    return url_for(f"voice.{endpoint}", **query)


def received_at(header: str | None) -> float | None:
    """When the proxy received the request, from ``X-Request-Start`` (``t=<epoch>`` in seconds,
    milliseconds or microseconds, as nginx, Heroku and others send it); None if absent or odd.
    A time in the future (clock skew) counts as now."""
    if not header:
        return None
    try:
        value = float(header.strip().removeprefix("t="))
    except ValueError:
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    for scale in (1e6, 1e3, 1.0):  # microseconds, milliseconds, seconds
        if value / scale > 1e9 or scale == 1.0:
            value /= scale
            break
    return min(value, time.time())


def context() -> steps.VoiceContext:
    config = current_app.config
    started = received_at(request.headers.get("X-Request-Start")) or time.time()
    return steps.VoiceContext(
        now=now(),
        settings=RoutingSettings(ring_seconds=int(config["CALL_RING_SECONDS"]),
                                 leg_max_seconds=int(config["CALL_LEG_MAX_SECONDS"])),
        hash_key=str(config["CALLER_HASH_KEY"]).encode(),
        callback_key=config["CALLBACK_ENCRYPTION_KEY"],
        forward_pool=config.get("FORWARD_POOL"),
        url=_url,
        deadline=started + float(config["VOICE_DEADLINE_SECONDS"]),
        spool=spool_for(config),
    )


def _twiml(text: str) -> Response:
    return Response(text, mimetype=TWIML_MIMETYPE)


def _answer(step, *args) -> Response:
    """Run a flow step; whatever goes wrong, Twilio gets TwiML that connects the caller."""
    try:
        reply = step(db.session, context(), *args)
    except Exception:  # noqa: BLE001 - the flow catches its own; this guards the context too
        logger.error("Voice webhook %s failed before its step ran; answered the fallback.\n%s",
                     request.path, redact(traceback.format_exc()))
        return _twiml(FALLBACK_TWIML)
    if reply.twiml is None:
        return Response(status=204)
    return _twiml(reply.twiml)


@bp.post("/incoming")
@twilio_signed
def incoming():
    return _answer(flow.incoming, request.form)


@bp.post("/dial-result")
@twilio_signed
def dial_result():
    return _answer(flow.dial_result, request.form, request.args)


@bp.post("/gather")
@twilio_signed
def gather():
    return _answer(flow.gather, request.form, request.args)


@bp.post("/status")
@twilio_signed
def status():
    return _answer(flow.status, request.form, request.args)


@bp.route("/fallback", methods=["GET", "POST"])
@twilio_signed
def fallback():
    # Twilio calls this when the app did not answer: keep the call for its record (no database
    # here; the spool's drain records it if no step did).
    spool = spool_for(current_app.config)
    if spool is not None and request.method == "POST":
        try:
            spool.write(request.form, step="fallback", at=now(),
                        hash_key=str(current_app.config["CALLER_HASH_KEY"]).encode())
        except Exception:  # noqa: BLE001 - the static answer must go out whatever happens
            logger.error("Could not spool a fallback request.\n%s",
                         redact(traceback.format_exc()))
    return _twiml(FALLBACK_TWIML)
