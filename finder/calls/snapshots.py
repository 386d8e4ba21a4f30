"""Turning pool rows into the plain snapshots the policy reads, and hashing the configuration."""

from __future__ import annotations

import hashlib
import json
from datetime import time

from finder.calls.pool import (
    AdvertiserSnapshot,
    Contract,
    Credential,
    OpeningHours,
    Weekday,
)


def parse_hours(hours: dict | None) -> OpeningHours:
    """``{"mon": [["09:00", "17:00"]], ...}`` → ``OpeningHours``."""
    intervals = {}
    for day, spans in (hours or {}).items():
        intervals[Weekday(day)] = tuple(
            (time.fromisoformat(start), time.fromisoformat(end)) for start, end in spans
        )
    return OpeningHours(intervals)


def snapshot(advertiser) -> AdvertiserSnapshot:
    return AdvertiserSnapshot(
        id=advertiser.id,
        name=advertiser.name,
        phone=advertiser.phone,
        city=advertiser.city,
        state=advertiser.state,
        tier=advertiser.tier,
        weight=advertiser.weight,
        timezone=advertiser.timezone,
        hours=parse_hours(advertiser.hours),
        states_served=frozenset(advertiser.states_served or ()),
        license=Credential(advertiser.license_number, advertiser.license_expires_on,
                           advertiser.license_state),
        accreditation=Credential(advertiser.accreditation_body,
                                 advertiser.accreditation_expires_on,
                                 advertiser.accreditation_body),
        certification=Credential(advertiser.certification_id,
                                 advertiser.certification_expires_on),
        contract=Contract(advertiser.contract_starts_on, advertiser.contract_ends_on,
                          advertiser.pricing_basis),
        consent_to_be_named=advertiser.consent_to_be_named,
        active=advertiser.active,
        daily_cap=advertiser.daily_cap,
        monthly_cap=advertiser.monthly_cap,
        concurrent_cap=advertiser.concurrent_cap,
        pool_id=advertiser.pool_id,
    )


_ROUTING_FIELDS = (
    "id", "name", "phone", "tier", "weight", "daily_cap", "monthly_cap", "concurrent_cap",
    "timezone", "hours", "states_served", "license_number", "license_state",
    "license_expires_on", "accreditation_body", "accreditation_expires_on", "certification_id",
    "certification_expires_on", "contract_starts_on", "contract_ends_on", "pricing_basis",
    "consent_to_be_named", "active",
)


def pool_config_hash(pool, advertisers) -> str:
    """SHA-256 of every setting that can change a decision, so a decision names its rules."""
    document = {
        "pool": {
            "id": pool.id, "ask_for_zip": pool.ask_for_zip, "max_attempts": pool.max_attempts,
            "repeat_window_days": pool.repeat_window_days,
            "min_answer_rate": pool.min_answer_rate,
        },
        "advertisers": [
            {field: getattr(a, field) for field in _ROUTING_FIELDS}
            for a in sorted(advertisers, key=lambda a: a.id)
        ],
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
