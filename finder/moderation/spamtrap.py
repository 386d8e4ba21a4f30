"""Telling people from bots on the public report form: a signed time the form was shown.

People take a few seconds to describe a problem; scripts post at once. The time is signed with
the app's secret, so a script cannot backdate it. (The form's honeypot field is the other trap.)
"""

from __future__ import annotations

import enum
import time

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

SALT = "finder.moderation.report-form"
#: A form shown longer ago than this is refused as stale (and shown again with a fresh time).
MAX_AGE_SECONDS = 24 * 3600


class Verdict(enum.StrEnum):
    OK = "ok"
    TOO_FAST = "too_fast"  #: sent sooner than a person could: treated as a bot
    STALE = "stale"  #: shown too long ago
    INVALID = "invalid"  #: missing, tampered with, or for another listing


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=SALT)


def issue(facility_id: int, now: float | None = None) -> str:
    """The signed token for the form of ``facility_id``, shown at ``now``."""
    shown = int(time.time() if now is None else now)
    return _serializer().dumps({"facility": facility_id, "shown": shown})


def check(token: str | None, facility_id: int, *, min_seconds: float,
          now: float | None = None) -> Verdict:
    now = time.time() if now is None else now
    try:
        data = _serializer().loads(token or "")
    except BadSignature:
        return Verdict.INVALID
    if not isinstance(data, dict) or data.get("facility") != facility_id:
        return Verdict.INVALID
    shown = data.get("shown")
    if not isinstance(shown, int) or shown > now + 60:
        return Verdict.INVALID
    if now - shown < min_seconds:
        return Verdict.TOO_FAST
    if now - shown > MAX_AGE_SECONDS:
        return Verdict.STALE
    return Verdict.OK
