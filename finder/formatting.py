"""Jinja filters for visitors: phone numbers, tap-to-call links, distances, dates, websites."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlsplit

import phonenumbers
from flask import Flask


def _parse_phone(value: str | None) -> phonenumbers.PhoneNumber | None:
    if not value:
        return None
    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def phone(value: str | None) -> str:
    """``+14349798871;ext=301`` → ``(434) 979-8871 ext. 301``; unparseable text is kept as is."""
    number = _parse_phone(value)
    if number is None:
        return value or ""
    if number.country_code == 1:
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    else:
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return text


def tel_href(value: str | None) -> str | None:
    """A ``tel:`` link. An extension follows a comma, the pause that phone dialers understand."""
    number = _parse_phone(value)
    if number is None:
        return None
    href = "tel:" + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if number.extension:
        href += "," + number.extension
    return href


def miles(value: float | None) -> str:
    """``2.43`` → ``2.4 mi``; whole miles from 10 on, where tenths mean nothing on a road."""
    if value is None:
        return ""
    if value < 0.1:
        return "under 0.1 mi"
    if value < 10:
        return f"{value:.1f} mi"
    return f"{round(value):,} mi"


def number(value: float | int | None) -> str:
    """``25.0`` → ``25``; ``1234`` → ``1,234``; ``2.5`` → ``2.5``."""
    if value is None:
        return ""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def long_date(value: date | datetime | None) -> str:
    """``2024-03-05`` → ``March 5, 2024``."""
    if value is None:
        return ""
    return f"{value:%B} {value.day}, {value.year}"


def pluralize(count: int, singular: str, plural: str | None = None) -> str:
    """``1, "facility", "facilities"`` → ``1 facility``; ``1234`` → ``1,234 facilities``."""
    word = singular if count == 1 else (plural or singular + "s")
    return f"{count:,} {word}"


def website_href(value: str | None) -> str | None:
    """An http(s) URL for a website as the source wrote it, or None when it is not one."""
    if not value:
        return None
    text = value.strip()
    if "://" not in text:
        text = "http://" + text
    if any(c.isspace() for c in text):
        return None
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or "." not in host:
        return None
    return text


def website_label(value: str | None) -> str:
    """``http://Www.Example.org/path/`` → ``example.org/path``."""
    href = website_href(value)
    if href is None:
        return value or ""
    parts = urlsplit(href)
    host = (parts.hostname or "").lower().removeprefix("www.")
    return (host + parts.path).rstrip("/")


FILTERS = {
    "phone": phone,
    "tel_href": tel_href,
    "miles": miles,
    "number": number,
    "long_date": long_date,
    "pluralize": pluralize,
    "website_href": website_href,
    "website_label": website_label,
}


def register(app: Flask) -> None:
    app.jinja_env.filters.update(FILTERS)
