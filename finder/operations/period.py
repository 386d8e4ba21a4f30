"""A range of whole UTC days, the unit of the call log's dates and of every report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

#: Reports cover this many days, ending today (UTC), unless dates are given.
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Period:
    since: date  #: the first UTC day included
    until: date  #: the last UTC day included

    @classmethod
    def ending(cls, today: date, days: int = DEFAULT_DAYS) -> Period:
        return cls(today - timedelta(days=days - 1), today)

    @property
    def start(self) -> datetime:
        """The first moment of the period, UTC."""
        return datetime.combine(self.since, time(0), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the period, UTC."""
        return datetime.combine(self.until + timedelta(days=1), time(0), tzinfo=UTC)

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC times, PostgreSQL aware ones: both become aware UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
