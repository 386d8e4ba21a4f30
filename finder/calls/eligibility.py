"""Whether one advertiser may take one call now, with a reason code for every failure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from finder.calls.pool import (
    WEEKDAYS,
    AdvertiserSnapshot,
    AdvertiserUsage,
    Credential,
    OpeningHours,
)


class Reason(StrEnum):
    INACTIVE = "inactive"
    LICENSE_MISSING = "license_missing"
    LICENSE_EXPIRED = "license_expired"
    ACCREDITATION_MISSING = "accreditation_missing"
    ACCREDITATION_EXPIRED = "accreditation_expired"
    CERTIFICATION_MISSING = "certification_missing"
    CERTIFICATION_EXPIRED = "certification_expired"
    CONTRACT_NOT_CURRENT = "contract_not_current"
    NO_CONSENT_TO_BE_NAMED = "no_consent_to_be_named"
    OUTSIDE_BUSINESS_HOURS = "outside_business_hours"
    DAILY_CAP_REACHED = "daily_cap_reached"
    MONTHLY_CAP_REACHED = "monthly_cap_reached"
    CONCURRENT_CAP_REACHED = "concurrent_cap_reached"
    STATE_NOT_SERVED = "state_not_served"
    CALLER_STATE_UNKNOWN = "caller_state_unknown"
    ANSWER_RATE_TOO_LOW = "answer_rate_too_low"
    ALREADY_TRIED = "already_tried"


@dataclass(frozen=True)
class EligibilityRules:
    #: An advertiser answering fewer than this share of its recent routed calls is paused.
    min_answer_rate: float = 0.5
    #: How many recent routed calls the answer rate looks at.
    answer_rate_window: int = 20
    #: The answer rate is judged only once this many recent calls exist (a new advertiser has none).
    answer_rate_min_calls: int = 5


def is_open(hours: OpeningHours, local: datetime) -> bool:
    """True when ``local`` (a time in the advertiser's zone) falls inside its weekly hours."""
    today = WEEKDAYS[local.weekday()]
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    now = local.time().replace(tzinfo=None)
    for start, end in hours.intervals.get(today, ()):
        if end > start and start <= now < end:
            return True
        if end <= start and now >= start:  # runs past midnight, or all day when start == end
            return True
    for start, end in hours.intervals.get(yesterday, ()):
        if end < start and now < end:  # the part after midnight of yesterday's overnight shift
            return True
    return False


def _credential(credential: Credential, today, missing: Reason, expired: Reason) -> Reason | None:
    if not credential.identifier or credential.expires_on is None:
        return missing
    if credential.expires_on < today:
        return expired
    return None


def credential_reasons(advertiser: AdvertiserSnapshot, today) -> list[Reason]:
    """Reasons an advertiser may not be in the pool at all on ``today`` (its local date)."""
    reasons = []
    if not advertiser.active:
        reasons.append(Reason.INACTIVE)
    for credential, missing, expired in (
        (advertiser.license, Reason.LICENSE_MISSING, Reason.LICENSE_EXPIRED),
        (advertiser.accreditation, Reason.ACCREDITATION_MISSING, Reason.ACCREDITATION_EXPIRED),
        (advertiser.certification, Reason.CERTIFICATION_MISSING, Reason.CERTIFICATION_EXPIRED),
    ):
        reason = _credential(credential, today, missing, expired)
        if reason:
            reasons.append(reason)
    contract = advertiser.contract
    if (
        contract.starts_on is None
        or contract.starts_on > today
        or (contract.ends_on is not None and contract.ends_on < today)
    ):
        reasons.append(Reason.CONTRACT_NOT_CURRENT)
    if not advertiser.consent_to_be_named:
        reasons.append(Reason.NO_CONSENT_TO_BE_NAMED)
    return reasons


def answer_rate(usage: AdvertiserUsage, rules: EligibilityRules) -> float | None:
    recent = usage.recent_answers[: rules.answer_rate_window]
    if len(recent) < rules.answer_rate_min_calls:
        return None
    return sum(recent) / len(recent)


def check(
    advertiser: AdvertiserSnapshot,
    usage: AdvertiserUsage,
    caller_state: str | None,
    now: datetime,
    rules: EligibilityRules,
) -> tuple[list[Reason], dict]:
    """Every reason ``advertiser`` cannot take this call (empty when eligible), and the figures."""
    local = now.astimezone(ZoneInfo(advertiser.timezone))
    reasons = credential_reasons(advertiser, local.date())
    if not is_open(advertiser.hours, local):
        reasons.append(Reason.OUTSIDE_BUSINESS_HOURS)
    if advertiser.daily_cap is not None and usage.calls_today >= advertiser.daily_cap:
        reasons.append(Reason.DAILY_CAP_REACHED)
    if advertiser.monthly_cap is not None and usage.calls_this_month >= advertiser.monthly_cap:
        reasons.append(Reason.MONTHLY_CAP_REACHED)
    if advertiser.concurrent_cap is not None and usage.live_legs >= advertiser.concurrent_cap:
        reasons.append(Reason.CONCURRENT_CAP_REACHED)
    if caller_state is None:
        reasons.append(Reason.CALLER_STATE_UNKNOWN)
    elif caller_state not in advertiser.states_served:
        reasons.append(Reason.STATE_NOT_SERVED)
    rate = answer_rate(usage, rules)
    if rate is not None and rate < rules.min_answer_rate:
        reasons.append(Reason.ANSWER_RATE_TOO_LOW)
    figures = {
        "local_time": local.isoformat(timespec="minutes"),
        "calls_today": usage.calls_today,
        "daily_cap": advertiser.daily_cap,
        "calls_this_month": usage.calls_this_month,
        "monthly_cap": advertiser.monthly_cap,
        "live_legs": usage.live_legs,
        "concurrent_cap": advertiser.concurrent_cap,
        "answer_rate": None if rate is None else round(rate, 3),
        "tier": advertiser.tier,
        "weight": advertiser.weight,
    }
    return reasons, figures


def local_day_bounds(timezone: str, now: datetime) -> tuple[datetime, datetime]:
    """UTC start and end of ``now``'s calendar day in ``timezone`` (23 or 25 hours on DST days)."""
    zone = ZoneInfo(timezone)
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def local_month_bounds(timezone: str, now: datetime) -> tuple[datetime, datetime]:
    """UTC start and end of ``now``'s calendar month in ``timezone``."""
    zone = ZoneInfo(timezone)
    first = now.astimezone(zone).date().replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    start = datetime.combine(first, time(0), tzinfo=zone)
    return start.astimezone(UTC), datetime.combine(following, time(0), tzinfo=zone).astimezone(UTC)
