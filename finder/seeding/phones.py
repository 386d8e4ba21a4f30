"""Phone numbers and websites from the source files, normalized or dropped (never guessed)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import phonenumbers

_HOST = re.compile(
    r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(:\d{1,5})?$"
)


def normalize_phone(raw: str | None, region: str = "US") -> str | None:
    """E.164, with an extension kept RFC 3966 style: ``"860-276-3000 x301"`` →
    ``"+18602763000;ext=301"``. None when the text is not a valid number."""
    if not raw or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{e164};ext={number.extension}" if number.extension else e164


def normalize_website(raw: str | None) -> str | None:
    """A URL that looks real, with ``http://`` added when the scheme is missing; else None.

    ``"http://"`` alone (the locator's placeholder for "no website") and hosts with commas
    or several schemes are dropped. Backslashes, which browsers read as slashes, become slashes.
    """
    text = (raw or "").strip().replace("\\", "/")
    if not text or any(ch.isspace() for ch in text):
        return None
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.netloc.lower()
    if scheme not in ("http", "https") or not _HOST.match(host):
        return None
    return urlunsplit((scheme, host, parts.path, parts.query, parts.fragment))
