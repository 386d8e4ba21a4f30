"""Assigning, moving, retiring and re-activating tracking numbers; each writes a change entry.

A number belongs to exactly one facility (it rings that facility's own phone) or one pool (its
advertisers answer). Numbers are never deleted: a retired one stops routing and keeps its row, so
the same number can only come back by re-activating that row (the column is unique).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from finder.calls.models import AdvertiserPool, NumberKind, TrackingNumber
from finder.calls.numbers import facility_line
from finder.changes.record import record, snapshot
from finder.directory.models import Facility, FacilityStatus
from finder.typed_text import has_control_characters

ENTITY = "tracking_number"
#: Ids this long cannot be a row id (and would overflow PostgreSQL's integer).
_MAX_ID_DIGITS = 9


class NumberError(ValueError):
    """A refused change, with the form field its message belongs to."""

    def __init__(self, message: str, field: str = "number", existing_id: int | None = None):
        super().__init__(message)
        self.field = field
        #: The row of the same number, when the refusal is a duplicate.
        self.existing_id = existing_id


def parse_number(raw: str | None) -> str:
    """E.164 for a valid phone number without an extension; NumberError saying why not."""
    text = (raw or "").strip()
    if not text:
        raise NumberError("Enter the tracking number.")
    try:
        parsed = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        raise NumberError("That is not a phone number. Enter it like +1 512 555 0100.") from None
    if parsed.extension:
        raise NumberError("A tracking number cannot have an extension.")
    if not phonenumbers.is_valid_number(parsed):
        raise NumberError("That is not a valid phone number: check the area code and the "
                          "number of digits.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class Owner:
    """Where a number belongs: exactly one of a facility or a pool."""

    facility: Facility | None = None
    pool: AdvertiserPool | None = None

    def __post_init__(self):
        if (self.facility is None) == (self.pool is None):
            raise ValueError("an owner is exactly one facility or one pool")

    @property
    def kind(self) -> NumberKind:
        return NumberKind.FACILITY if self.facility is not None else NumberKind.HELPLINE

    def describe(self) -> str:
        if self.facility is not None:
            return f"facility {self.facility.name1} (#{self.facility.id})"
        return f"pool {self.pool.name}"

    def same_as(self, tracking: TrackingNumber) -> bool:
        if self.facility is not None:
            return tracking.facility_id == self.facility.id
        return tracking.pool_id == self.pool.id


def owner_of(tracking: TrackingNumber) -> Owner:
    return Owner(facility=tracking.facility, pool=tracking.pool)


def _row_id(text: str) -> int | None:
    """``text`` as a row id if it is one: ASCII digits ("²" is a digit to ``isdigit``, not to
    ``int``), and few enough for an INTEGER column."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= _MAX_ID_DIGITS else None


def find_facility(session: Session, ref: str | None) -> Facility | None:
    """A facility by its id or its slug."""
    text = (ref or "").strip()
    if not text or has_control_characters(text):
        return None  # no slug holds one (and PostgreSQL refuses NUL in a query)
    row_id = _row_id(text)
    if row_id is not None:
        found = session.get(Facility, row_id)
        if found is not None:
            return found
    return session.execute(
        sa.select(Facility).where(Facility.slug == text.lower())
    ).scalar_one_or_none()


def search_facilities(session: Session, text: str | None, limit: int = 20) -> list[Facility]:
    """Facilities whose name, city, state or slug contain every word of ``text`` (or that id)."""
    words = (text or "").lower().split()[:6]
    if not words or has_control_characters(words):
        return []  # no facility's name holds one (and PostgreSQL refuses NUL in a query)
    conditions = []
    for word in words:
        conditions.append(sa.or_(
            sa.func.lower(Facility.name1).contains(word, autoescape=True),
            sa.func.lower(sa.func.coalesce(Facility.name2, "")).contains(word, autoescape=True),
            sa.func.lower(Facility.city).contains(word, autoescape=True),
            sa.func.lower(Facility.state) == word,
            Facility.slug.contains(word, autoescape=True),
        ))
    query = sa.select(Facility).where(sa.and_(*conditions))
    row_id = _row_id(words[0]) if len(words) == 1 else None
    if row_id is not None:
        query = sa.select(Facility).where(sa.or_(Facility.id == row_id,
                                                 sa.and_(*conditions)))
    return list(session.execute(
        query.order_by(Facility.name1, Facility.id).limit(limit)
    ).scalars())


def resolve_owner(session: Session, kind: str, facility_ref: str | None,
                  pool_id: str | int | None) -> Owner:
    """The owner chosen on a form: a facility by id or slug, or a pool by id."""
    if kind == NumberKind.FACILITY:
        if not (facility_ref or "").strip():
            raise NumberError("Choose the facility this number rings.", "facility")
        facility = find_facility(session, facility_ref)
        if facility is None:
            raise NumberError("No facility has that id or slug. Search for it below.", "facility")
        return Owner(facility=facility)
    if kind == NumberKind.HELPLINE:
        text = str(pool_id or "").strip()
        row_id = _row_id(text)
        pool = session.get(AdvertiserPool, row_id) if row_id is not None else None
        if pool is None:
            raise NumberError("Choose the pool whose advertisers answer this number.", "pool_id")
        return Owner(pool=pool)
    raise NumberError("Choose whether the number rings a facility or a pool.", "kind")


def check_owner(owner: Owner) -> None:
    """Refuse an owner that could not take a call."""
    facility = owner.facility
    if facility is None:
        return
    if facility.status == FacilityStatus.CLOSED:
        raise NumberError(f"{facility.name1} is closed: a tracking number would ring a closed "
                          "facility.", "facility")
    if not facility_line(facility):
        raise NumberError(f"{facility.name1} has no phone (intake or main) on file, so this "
                          "number would ring nowhere. Add the facility's phone first.",
                          "facility")


def find_number(session: Session, number: str) -> TrackingNumber | None:
    """The row of an E.164 number, retired or not."""
    return session.execute(
        sa.select(TrackingNumber).where(TrackingNumber.number == number)
    ).scalar_one_or_none()


def _flush(session: Session, number: str) -> None:
    try:
        session.flush()
    except IntegrityError:
        # Another admin saved the same number a moment ago. The caller rolls back.
        raise NumberError(f"{number} was just added by someone else.") from None


def assign_number(session: Session, *, actor, number: str, owner: Owner,
                  label: str | None = None) -> TrackingNumber:
    """A new tracking number ringing ``owner``."""
    e164 = parse_number(number)
    existing = find_number(session, e164)
    if existing is not None:
        if existing.retired_at is not None:
            raise NumberError(
                f"{e164} was retired on {existing.retired_at:%Y-%m-%d}. A number is never added "
                "twice: re-activate the retired one instead.", existing_id=existing.id)
        raise NumberError(f"{e164} is already assigned to {owner_of(existing).describe()}.",
                          existing_id=existing.id)
    check_owner(owner)
    tracking = TrackingNumber(number=e164, kind=owner.kind, facility=owner.facility,
                              pool=owner.pool, label=(label or "").strip() or None)
    session.add(tracking)
    _flush(session, e164)
    record(session, actor=actor, entity=ENTITY, entity_id=tracking.id, action="assign",
           summary=f"Assigned {e164} to {owner.describe()}", after=snapshot(tracking))
    return tracking


def _set_owner(tracking: TrackingNumber, owner: Owner) -> None:
    tracking.kind = owner.kind
    tracking.facility = owner.facility
    tracking.pool = owner.pool


def move_number(session: Session, *, actor, tracking: TrackingNumber,
                owner: Owner) -> TrackingNumber:
    """Point an active number at another facility or pool."""
    if tracking.retired_at is not None:
        raise NumberError("A retired number cannot be moved; re-activate it instead.")
    if owner.same_as(tracking):
        raise NumberError(f"It already belongs to {owner.describe()}.",
                          "facility" if owner.facility is not None else "pool_id")
    check_owner(owner)
    before, previous = snapshot(tracking), owner_of(tracking).describe()
    _set_owner(tracking, owner)
    session.flush()
    record(session, actor=actor, entity=ENTITY, entity_id=tracking.id, action="move",
           summary=f"Moved {tracking.number} from {previous} to {owner.describe()}",
           before=before, after=snapshot(tracking))
    return tracking


def retire_number(session: Session, *, actor, tracking: TrackingNumber,
                  now: datetime) -> TrackingNumber:
    """Stop a number routing. The row stays, with when it was retired."""
    if tracking.retired_at is not None:
        raise NumberError(f"{tracking.number} is already retired.")
    before = snapshot(tracking)
    tracking.retired_at = now
    session.flush()
    record(session, actor=actor, entity=ENTITY, entity_id=tracking.id, action="retire",
           summary=f"Retired {tracking.number} ({owner_of(tracking).describe()})",
           before=before, after=snapshot(tracking))
    return tracking


def reactivate_number(session: Session, *, actor, tracking: TrackingNumber,
                      owner: Owner) -> TrackingNumber:
    """Bring a retired number back, ringing ``owner`` (its old owner or a new one)."""
    if tracking.retired_at is None:
        raise NumberError(f"{tracking.number} is not retired.")
    check_owner(owner)
    before = snapshot(tracking)
    _set_owner(tracking, owner)
    tracking.retired_at = None
    session.flush()
    record(session, actor=actor, entity=ENTITY, entity_id=tracking.id, action="reactivate",
           summary=f"Re-activated {tracking.number} for {owner.describe()}",
           before=before, after=snapshot(tracking))
    return tracking
