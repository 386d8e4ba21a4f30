"""Changing listings: create, edit, close, reopen, verify and re-tag facilities.

Every change writes one change-log entry in the caller's transaction (the caller commits).
Coordinates are geocoded here, when a listing is saved, never during a search.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from finder.changes.record import changed_fields, record, snapshot
from finder.directory.models import (
    Facility,
    FacilityStatus,
    FacilityVerification,
    GeoPrecision,
    Service,
)
from finder.geo.place import PlaceNotFound, Precision, locate
from finder.paging import Page, clamped
from finder.seeding.normalize import slugify
from finder.seeding.sync import unique_slug

#: What a listing created in the admin says about where it came from.
STAFF_DATA_SOURCE = "Added by finder staff"
PER_PAGE = 50
#: Columns that change on every save and say nothing about what the admin changed.
_BOOKKEEPING = ("updated_at",)
_PRECISION = {
    Precision.ZIP: GeoPrecision.ZIP,
    Precision.CITY: GeoPrecision.CITY,
    Precision.ADDRESS: GeoPrecision.ROOFTOP,  # an online geocoder, when one is configured
    Precision.COORDINATES: GeoPrecision.MANUAL,
}
ADDRESS_FIELDS = ("street1", "city", "state", "zip")


class ListingError(ValueError):
    """A change that cannot be made; ``str(error)`` is a message for the admin."""


class GeocodingFailed(ListingError):
    pass


@dataclass(frozen=True)
class ListingData:
    """The editable fields of a listing, already validated and normalized by the form."""

    name1: str
    street1: str
    city: str
    state: str
    zip: str
    name2: str | None = None
    street2: str | None = None
    zip4: str | None = None
    phone: str | None = None
    intake_phone: str | None = None
    website: str | None = None
    notes: str | None = None
    #: (latitude, longitude) placed by hand; None to geocode the address.
    manual_point: tuple[float, float] | None = None

    def columns(self) -> dict:
        return {
            "name1": self.name1, "name2": self.name2, "street1": self.street1,
            "street2": self.street2, "city": self.city, "state": self.state, "zip": self.zip,
            "zip4": self.zip4, "phone": self.phone, "intake_phone": self.intake_phone,
            "website": self.website, "notes": self.notes,
        }


@dataclass(frozen=True)
class Located:
    latitude: float
    longitude: float
    precision: GeoPrecision
    label: str


def geocode(street: str, city: str, state: str, zip5: str) -> Located:
    """The offline gazetteer's (or configured geocoder's) point for an address: a street
    address resolves to its ZIP's centre (precision zip), or its city's when the ZIP has no
    location. Falls back to the ZIP alone when the full text cannot be read, and refuses a
    result in another state. Needs an app context."""
    attempts = (f"{street}, {city}, {state} {zip5}", zip5)
    for text in attempts:
        try:
            place = locate(text)
        except PlaceNotFound:
            continue
        if place.state and place.state != state:
            continue
        if not (math.isfinite(place.latitude) and math.isfinite(place.longitude)):
            continue
        return Located(place.latitude, place.longitude, _PRECISION[place.precision], place.label)
    raise GeocodingFailed(
        "We could not place this address on the map. Check the street, city and ZIP code, "
        "or place the listing by hand."
    )


def new_slug(session: Session, name1: str, city: str, state: str) -> str:
    """``name-city-st`` made unique the way the seeder does it (``-2``, ``-3``...)."""
    base = slugify(f"{name1} {city} {state}")
    taken = set(session.execute(
        select(Facility.slug).where(or_(Facility.slug == base, Facility.slug.like(f"{base}-%")))
    ).scalars())
    return unique_slug(ListingData(name1=name1, street1="", city=city, state=state, zip=""),
                       taken)


def _place(facility: Facility, data: ListingData) -> None:
    if data.manual_point is not None:
        facility.latitude, facility.longitude = data.manual_point
        facility.geo_precision = GeoPrecision.MANUAL
        return
    located = geocode(data.street1, data.city, data.state, data.zip)
    facility.latitude, facility.longitude = located.latitude, located.longitude
    facility.geo_precision = located.precision


def _summary(verb: str, facility: Facility, fields) -> str:
    names = ", ".join(fields)
    return f"{verb} {facility.name1} ({facility.slug})" + (f": {names}" if names else "")


def create_facility(session: Session, data: ListingData, *, actor) -> Facility:
    facility = Facility(
        slug=new_slug(session, data.name1, data.city, data.state),
        source_key=None,
        data_source=STAFF_DATA_SOURCE,
        status=FacilityStatus.ACTIVE,
        **data.columns(),
    )
    _place(facility, data)
    session.add(facility)
    session.flush()
    record(session, actor=actor, entity="facility", entity_id=facility.id, action="create",
           summary=_summary("Created", facility, ()), after=snapshot(facility))
    return facility


def update_facility(session: Session, facility: Facility, data: ListingData, *, actor) -> dict:
    """Apply ``data``; returns {field: [before, after]} of what changed ({} when nothing did).

    Coordinates are geocoded again only when the address changed or a hand-placed listing is
    no longer placed by hand, so a source's rooftop coordinates survive a phone-number edit.
    """
    before = snapshot(facility)
    address_changed = any(getattr(facility, name) != getattr(data, name)
                          for name in ADDRESS_FIELDS)
    for name, value in data.columns().items():
        setattr(facility, name, value)
    if (data.manual_point is not None or address_changed
            or facility.geo_precision == GeoPrecision.MANUAL):
        _place(facility, data)
    session.flush()
    after = snapshot(facility)
    changes = {k: v for k, v in changed_fields(before, after).items() if k not in _BOOKKEEPING}
    if changes:
        record(session, actor=actor, entity="facility", entity_id=facility.id, action="update",
               summary=_summary("Updated", facility, changes), before=before, after=after)
    return changes


def _set_status(session: Session, facility: Facility, status: FacilityStatus, *, actor,
                action: str, note: str | None) -> None:
    if facility.status == status:
        raise ListingError(f"{facility.name1} is already {status.value}.")
    before = snapshot(facility)
    facility.status = status
    session.flush()
    summary = _summary("Closed" if status == FacilityStatus.CLOSED else "Reopened", facility, ())
    if note:
        summary += f" — {note}"
    record(session, actor=actor, entity="facility", entity_id=facility.id, action=action,
           summary=summary, before=before, after=snapshot(facility))


def close_facility(session: Session, facility: Facility, *, actor, note: str | None = None):
    """Mark the listing closed; it stays in the directory (nothing is hard-deleted)."""
    _set_status(session, facility, FacilityStatus.CLOSED, actor=actor, action="close", note=note)


def reopen_facility(session: Session, facility: Facility, *, actor, note: str | None = None):
    _set_status(session, facility, FacilityStatus.ACTIVE, actor=actor, action="reopen",
                note=note)


def mark_verified(session: Session, facility: Facility, *, actor, note: str | None = None,
                  today: date | None = None) -> FacilityVerification:
    """Stamp ``last_verified_on`` and keep who verified in the verification history."""
    today = today or date.today()
    before = snapshot(facility)
    facility.last_verified_on = today
    verification = FacilityVerification(
        facility_id=facility.id, verified_on=today, user_id=getattr(actor, "id", None),
        verified_by=getattr(actor, "email", None) or str(actor), note=note or None,
    )
    session.add(verification)
    session.flush()
    after = snapshot(facility)
    after["verified_by"] = verification.verified_by
    if note:
        after["verification_note"] = note
    record(session, actor=actor, entity="facility", entity_id=facility.id, action="verify",
           summary=_summary("Verified", facility, ()) + f" on {today.isoformat()}",
           before=before, after=after)
    return verification


def service_codes(facility: Facility) -> list[str]:
    return sorted(service.code for service in facility.services)


def set_services(session: Session, facility: Facility, codes, *, actor) -> bool:
    """Replace the facility's service links with ``codes``; False when nothing changed."""
    wanted = sorted(set(codes))
    services = list(session.execute(select(Service).where(Service.code.in_(wanted))).scalars())
    unknown = sorted(set(wanted) - {service.code for service in services})
    if unknown:
        raise ListingError(f"Unknown service codes: {', '.join(unknown)}.")
    before = service_codes(facility)
    if before == wanted:
        return False
    facility.services = services
    session.flush()
    added = sorted(set(wanted) - set(before))
    removed = sorted(set(before) - set(wanted))
    parts = [f"added {', '.join(added)}" if added else "",
             f"removed {', '.join(removed)}" if removed else ""]
    record(session, actor=actor, entity="service_link", entity_id=facility.id, action="replace",
           summary=_summary("Services of", facility, ()) + ": " + "; ".join(p for p in parts if p),
           before={"services": before}, after={"services": wanted})
    return True



def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def find_facilities(session: Session, *, text: str | None = None, state: str | None = None,
                    status: FacilityStatus | None = None, page: int = 1,
                    per_page: int = PER_PAGE) -> Page:
    """Facilities whose name, city or ZIP contains ``text``, by name, one page at a time."""
    conditions = []
    text = " ".join((text or "").split())
    if text:
        pattern = _like(text)
        conditions.append(or_(
            func.lower(Facility.name1).like(pattern, escape="\\"),
            func.lower(Facility.name2).like(pattern, escape="\\"),
            func.lower(Facility.city).like(pattern, escape="\\"),
            Facility.zip.like(pattern, escape="\\"),
        ))
    if state:
        conditions.append(Facility.state == state)
    if status:
        conditions.append(Facility.status == status)
    total = session.execute(
        select(func.count()).select_from(Facility).where(*conditions)
    ).scalar_one()
    page = clamped(page, total, per_page)
    facilities = list(session.execute(
        select(Facility).where(*conditions)
        .order_by(Facility.name1, Facility.city, Facility.id)
        .limit(per_page).offset((page - 1) * per_page)
    ).scalars())
    return Page(facilities, total, page, per_page)
