"""JSON shapes of places, facilities and the service taxonomy, for the API and the locator."""

from __future__ import annotations

import hashlib
import re

from flask import url_for
from sqlalchemy.orm import selectinload

from finder.directory.filters import group_services
from finder.directory.models import Facility, ServiceCategory
from finder.extensions import db
from finder.geo.place import Place

# A US number as stored (E.164, with the extension phonenumbers writes as ";ext=").
_NANP = re.compile(r"^\+1(\d{3})(\d{3})(\d{4})(?:;ext=(\d+))?$")


def place_json(place: Place) -> dict:
    return {
        "label": place.label,
        "latitude": place.latitude,
        "longitude": place.longitude,
        "precision": str(place.precision),
        "approximate": place.approximate,
        "state": place.state,
        "zip": place.zip,
    }


def facility_url(facility: Facility) -> str:
    return url_for("directory.facility", slug=facility.slug, _external=True)


def facility_json(facility: Facility, distance_miles: float | None = None) -> dict:
    return {
        "id": facility.id,
        "slug": facility.slug,
        "name1": facility.name1,
        "name2": facility.name2,
        "street1": facility.street1,
        "street2": facility.street2,
        "city": facility.city,
        "state": facility.state,
        "zip": facility.zip,
        "county": facility.county,
        "latitude": facility.latitude,
        "longitude": facility.longitude,
        "geo_precision": str(facility.geo_precision),
        "phone": facility.phone,
        "intake_phone": facility.intake_phone,
        "website": facility.website,
        "status": str(facility.status),
        "data_source": facility.data_source,
        "last_verified_on": (
            facility.last_verified_on.isoformat() if facility.last_verified_on else None
        ),
        "services": [
            {"code": service.code, "label": service.label, "category": group.category.code}
            for group in group_services(facility.services)
            for service in group.services
        ],
        "distance_miles": None if distance_miles is None else round(distance_miles, 2),
        "url": facility_url(facility),
    }


def taxonomy_json(session) -> list[dict]:
    categories = session.scalars(
        db.select(ServiceCategory)
        .options(selectinload(ServiceCategory.services))
        .order_by(ServiceCategory.position, ServiceCategory.code)
    )
    return [
        {
            "code": category.code,
            "name": category.name,
            "plain_name": category.plain_name,
            "services": [
                {
                    "code": service.code,
                    "label": service.label,
                    "plain_label": service.plain_label,
                    "confirmed": service.confirmed,
                }
                for service in category.services
            ],
        }
        for category in categories
    ]


def frid(facility: Facility) -> str:
    """The locator's opaque facility id: stable across re-seeding, reveals nothing."""
    return hashlib.sha256((facility.source_key or facility.slug).encode()).hexdigest()


def locator_phone(e164: str | None) -> str | None:
    """``+14349718454;ext=1`` → ``434-971-8454 x1``, the locator's format; others as stored."""
    if not e164:
        return None
    match = _NANP.match(e164)
    if match is None:
        return e164
    area, exchange, line, extension = match.groups()
    text = f"{area}-{exchange}-{line}"
    return f"{text} x{extension}" if extension else text


def locator_row(index: int, facility: Facility, distance_miles: float) -> dict:
    """One ``rows[]`` entry, with the keys, order and empty values of the locator's own answers."""
    return {
        "_irow": index,
        "frid": frid(facility),
        "name1": facility.name1,
        "name2": facility.name2 or "",
        "street1": facility.street1 or "",
        "city": facility.city,
        "street2": facility.street2 or "",
        "state": facility.state,
        "zip": facility.zip or "",
        "phone": locator_phone(facility.phone),
        # finder lists substance-use facilities only.
        "typeFacility": "SA",
        "intake1": locator_phone(facility.intake_phone),
        # No source gives finder hotline numbers.
        "hotline1": None,
        "website": facility.website,
        "latitude": str(facility.latitude),
        "longitude": str(facility.longitude),
        "miles": round(distance_miles, 2),
        "services": [
            {
                "f1": group.category.name,
                "f2": group.category.code,
                "f3": "; ".join(service.label for service in group.services),
            }
            for group in group_services(facility.services)
        ],
    }
