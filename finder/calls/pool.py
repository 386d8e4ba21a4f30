"""Plain snapshots of the advertiser pool that the routing policy reads (no database, no Flask)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from enum import StrEnum


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAYS = list(Weekday)


@dataclass(frozen=True)
class OpeningHours:
    """A weekly schedule: for each weekday, the (start, end) intervals it answers, local time.

    An interval whose end is not after its start runs past midnight into the next day.
    """

    intervals: dict[Weekday, tuple[tuple[time, time], ...]] = field(default_factory=dict)

    @classmethod
    def always(cls) -> OpeningHours:
        return cls({day: ((time(0, 0), time(0, 0)),) for day in WEEKDAYS})


@dataclass(frozen=True)
class Credential:
    """A license, accreditation or certification: what it is and when it expires."""

    identifier: str | None
    expires_on: date | None
    issuer: str | None = None  #: the licensing state, or the accrediting body


@dataclass(frozen=True)
class Contract:
    starts_on: date | None
    ends_on: date | None
    pricing: str | None = None


@dataclass(frozen=True)
class AdvertiserSnapshot:
    id: int
    name: str
    phone: str  #: E.164 number the calls ring
    city: str
    state: str
    tier: int  #: 1 is the highest priority
    weight: int
    timezone: str
    hours: OpeningHours
    states_served: frozenset[str]
    license: Credential
    accreditation: Credential
    certification: Credential
    contract: Contract
    consent_to_be_named: bool
    active: bool
    daily_cap: int | None = None
    monthly_cap: int | None = None
    concurrent_cap: int | None = None
    pool_id: int | None = None


@dataclass(frozen=True)
class AdvertiserUsage:
    """What the advertiser has already taken, counted in its own time zone."""

    calls_today: int = 0
    calls_this_month: int = 0
    live_legs: int = 0
    #: Outcomes of its most recent routed calls, newest first: True when answered.
    recent_answers: tuple[bool, ...] = ()
