"""Tracking numbers and what each one rings: a facility's own phone, or a pool's advertisers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from finder.calls.eligibility import EligibilityRules, Reason, check
from finder.calls.models import AdvertiserPool, NumberKind, TrackingNumber
from finder.calls.snapshots import snapshot
from finder.calls.usage import usage_for
from finder.directory.models import Facility


def facility_line(facility: Facility) -> str | None:
    """The number a facility tracking number rings (as ``routing.ring_facility`` dials it)."""
    return facility.intake_phone or facility.phone


def number_for_facility(session: Session, facility: Facility) -> TrackingNumber | None:
    """The facility's active tracking number, if it has one."""
    return session.execute(
        sa.select(TrackingNumber)
        .where(
            TrackingNumber.kind == NumberKind.FACILITY,
            TrackingNumber.facility_id == facility.id,
            TrackingNumber.retired_at.is_(None),
        )
        .order_by(TrackingNumber.id)
        .limit(1)
    ).scalar_one_or_none()


def numbers_for_facilities(session: Session, facility_ids: Iterable[int]) -> dict[int, str]:
    """Facility id → its active tracking number, for the facilities that have one."""
    ids = sorted(set(facility_ids))
    if not ids:
        return {}
    rows = session.execute(
        sa.select(TrackingNumber.facility_id, TrackingNumber.number)
        .where(
            TrackingNumber.kind == NumberKind.FACILITY,
            TrackingNumber.facility_id.in_(ids),
            TrackingNumber.retired_at.is_(None),
        )
        .order_by(TrackingNumber.id.desc())
    ).all()
    return {facility_id: number for facility_id, number in rows}  # the lowest id wins


def _state_free(reasons: list[Reason]) -> list[str]:
    # "Eligible now" is asked without a caller, so the caller's state cannot be a reason.
    return [str(r) for r in reasons if r not in (Reason.CALLER_STATE_UNKNOWN,
                                                 Reason.STATE_NOT_SERVED)]


def pool_advertisers(session: Session, pool: AdvertiserPool, now: datetime) -> list[dict]:
    """Each advertiser of ``pool``, and whether it could take a call now (from its states)."""
    advertisers = list(pool.advertisers)
    usage = usage_for(session, advertisers, now)
    rules = EligibilityRules(min_answer_rate=pool.min_answer_rate)
    described = []
    for advertiser in advertisers:
        reasons, _ = check(snapshot(advertiser), usage[advertiser.id], None, now, rules)
        blocking = _state_free(reasons)
        described.append({
            "id": advertiser.id,
            "name": advertiser.name,
            "phone": advertiser.phone,
            "city": advertiser.city,
            "state": advertiser.state,
            "timezone": advertiser.timezone,
            "tier": advertiser.tier,
            "weight": advertiser.weight,
            "states_served": sorted(advertiser.states_served or ()),
            "active": advertiser.active,
            "eligible_now": not blocking,
            "reasons": blocking,
            "is_demo": advertiser.is_demo,
        })
    return described


def describe_numbers(session: Session, now: datetime) -> list[dict]:
    """Every tracking number, retired ones included, with what it rings at ``now``."""
    numbers = session.execute(
        sa.select(TrackingNumber)
        .options(selectinload(TrackingNumber.facility), selectinload(TrackingNumber.pool))
        .order_by(TrackingNumber.kind, TrackingNumber.number)
    ).scalars().all()
    pools: dict[int, list[dict]] = {}
    described = []
    for number in numbers:
        entry = {
            "number": number.number,
            "kind": str(number.kind),
            "label": number.label,
            "is_demo": number.is_demo,
            "retired": number.retired_at is not None,
            "retired_at": number.retired_at.isoformat() if number.retired_at else None,
        }
        if number.kind == NumberKind.FACILITY:
            facility = number.facility
            entry["facility"] = {
                "id": facility.id,
                "slug": facility.slug,
                "name": facility.name1,
                "city": facility.city,
                "state": facility.state,
                "rings": facility_line(facility),
            }
        else:
            pool = number.pool
            if pool.id not in pools:
                pools[pool.id] = pool_advertisers(session, pool, now)
            entry["pool"] = {"id": pool.id, "name": pool.name, "advertisers": pools[pool.id]}
        described.append(entry)
    return described
