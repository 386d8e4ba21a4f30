"""Creating and changing pools and advertisers; each change writes a change entry.

Whether an advertiser may be active is decided by ``finder.calls.eligibility.credential_reasons``,
the same function routing uses, so the admin and the router cannot disagree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from finder.calls.eligibility import Reason, credential_reasons
from finder.calls.models import Advertiser, AdvertiserPool
from finder.calls.snapshots import snapshot as routing_snapshot
from finder.changes.record import changed_fields, record, snapshot

POOL = "advertiser_pool"
ADVERTISER = "advertiser"

POOL_FIELDS = ("name", "ask_for_zip", "max_attempts", "repeat_window_days", "min_answer_rate")
ADVERTISER_FIELDS = (
    "pool_id", "facility_id", "name", "city", "state", "phone", "tier", "weight", "daily_cap",
    "monthly_cap", "concurrent_cap", "timezone", "hours", "states_served", "license_number",
    "license_state", "license_expires_on", "accreditation_body", "accreditation_expires_on",
    "certification_id", "certification_expires_on", "contract_starts_on", "contract_ends_on",
    "pricing_basis", "consent_to_be_named", "active",
)


class PoolError(ValueError):
    """A refused change, with the form field its message belongs to."""

    def __init__(self, message: str, field: str = "name"):
        super().__init__(message)
        self.field = field


class ActivationRefused(ValueError):
    """An advertiser cannot be active: the reasons are routing's own reason codes."""

    def __init__(self, reasons: list[Reason], today: date):
        super().__init__("cannot be active: " + ", ".join(reasons))
        self.reasons = reasons
        self.today = today


def local_today(timezone: str | None, now: datetime) -> date:
    """The date in the advertiser's zone, as routing judges credentials (UTC if unknown)."""
    try:
        return now.astimezone(ZoneInfo(timezone or "UTC")).date()
    except (ValueError, KeyError, OSError):
        return now.astimezone(UTC).date()


def activation_reasons(values: dict, today: date) -> list[Reason]:
    """Why an advertiser with these field values could not be active on ``today``."""
    candidate = SimpleNamespace(**{field: values.get(field) for field in ADVERTISER_FIELDS})
    candidate.id = 0
    candidate.active = True
    candidate.hours = {}  # hours decide when it answers, never whether it may be active
    return [r for r in credential_reasons(routing_snapshot(candidate), today)
            if r != Reason.INACTIVE]


# Pools ---------------------------------------------------------------------------------------

def _pool_named(session: Session, name: str) -> AdvertiserPool | None:
    return session.execute(
        sa.select(AdvertiserPool).where(sa.func.lower(AdvertiserPool.name) == name.lower())
    ).scalar_one_or_none()


def _flush_pool(session: Session, name: str) -> None:
    try:
        session.flush()
    except IntegrityError:
        # Another admin saved a pool of that name a moment ago. The caller rolls back.
        raise PoolError(f"A pool named {name} already exists.") from None


def create_pool(session: Session, *, actor, values: dict) -> AdvertiserPool:
    if _pool_named(session, values["name"]):
        raise PoolError(f"A pool named {values['name']} already exists.")
    pool = AdvertiserPool(**{field: values[field] for field in POOL_FIELDS})
    session.add(pool)
    _flush_pool(session, pool.name)
    record(session, actor=actor, entity=POOL, entity_id=pool.id, action="create",
           summary=f"Created pool {pool.name}", after=snapshot(pool))
    return pool


def update_pool(session: Session, *, actor, pool: AdvertiserPool, values: dict) -> bool:
    """Apply ``values``; False when nothing changed (and nothing is recorded)."""
    other = _pool_named(session, values["name"])
    if other is not None and other.id != pool.id:
        raise PoolError(f"A pool named {values['name']} already exists.")
    before = snapshot(pool)
    for field in POOL_FIELDS:
        setattr(pool, field, values[field])
    _flush_pool(session, pool.name)
    after = snapshot(pool)
    changes = changed_fields(before, after)
    if not changes:
        return False
    record(session, actor=actor, entity=POOL, entity_id=pool.id, action="update",
           summary=f"Updated pool {pool.name}: {', '.join(changes)}", before=before, after=after)
    return True


# Advertisers ---------------------------------------------------------------------------------

def _refuse_if_ineligible(values: dict, now: datetime) -> None:
    if not values.get("active"):
        return
    today = local_today(values.get("timezone"), now)
    reasons = activation_reasons(values, today)
    if reasons:
        raise ActivationRefused(reasons, today)


def _require_pool(session: Session, pool_id) -> None:
    if session.get(AdvertiserPool, pool_id) is None:
        raise PoolError("Choose an existing pool.", "pool_id")


def create_advertiser(session: Session, *, actor, values: dict, now: datetime) -> Advertiser:
    """A new advertiser; refused (ActivationRefused) if it is to be active but may not be."""
    _require_pool(session, values["pool_id"])
    _refuse_if_ineligible(values, now)
    advertiser = Advertiser(**{field: values[field] for field in ADVERTISER_FIELDS})
    session.add(advertiser)
    session.flush()
    state = "active" if advertiser.active else "inactive"
    record(session, actor=actor, entity=ADVERTISER, entity_id=advertiser.id, action="create",
           summary=f"Created advertiser {advertiser.name} ({state})", after=snapshot(advertiser))
    return advertiser


def update_advertiser(session: Session, *, actor, advertiser: Advertiser, values: dict,
                      now: datetime) -> bool:
    """Apply ``values``; False when nothing changed.

    Saving an advertiser as active is refused whenever it could not be active today, also when
    it already was: an active row with a lapsed license would otherwise look fine in the admin
    while routing skips it.
    """
    _require_pool(session, values["pool_id"])
    _refuse_if_ineligible(values, now)
    before = snapshot(advertiser)
    for field in ADVERTISER_FIELDS:
        setattr(advertiser, field, values[field])
    changes = changed_fields(before, {**before, **snapshot(advertiser)})
    changes.pop("updated_at", None)
    if not changes:
        return False
    session.flush()
    if "active" in changes:
        action = "activate" if advertiser.active else "deactivate"
    else:
        action = "update"
    record(session, actor=actor, entity=ADVERTISER, entity_id=advertiser.id, action=action,
           summary=f"{action.capitalize()}d advertiser {advertiser.name}: "
                   f"{', '.join(sorted(changes))}",
           before=before, after=snapshot(advertiser))
    return True


def deactivate_advertiser(session: Session, *, actor, advertiser: Advertiser) -> bool:
    """Take an advertiser out of the pool at once (always allowed); False if it was inactive."""
    if not advertiser.active:
        return False
    before = snapshot(advertiser)
    advertiser.active = False
    session.flush()
    record(session, actor=actor, entity=ADVERTISER, entity_id=advertiser.id, action="deactivate",
           summary=f"Deactivated advertiser {advertiser.name}", before=before,
           after=snapshot(advertiser))
    return True
