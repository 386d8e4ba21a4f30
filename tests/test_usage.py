"""``usage_for`` reads a whole pool's usage in one query (several for a very large pool): it must
agree with counting each advertiser on its own, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from finder.calls import usage
from finder.calls.models import (
    AdvertiserUsageCounter,
    AttemptStatus,
    Call,
    CallAttempt,
)
from finder.extensions import db
from tests.factories import make_advertiser, make_pool

NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)


def one_by_one(advertiser, now: datetime) -> tuple[int, int, int, tuple[bool, ...]]:
    """The same four figures, each from a plain query of its own."""
    day = usage.local_day(advertiser, now)

    def counted(period: str, starts_on: date) -> int:
        return db.session.execute(sa.select(AdvertiserUsageCounter.calls).where(
            AdvertiserUsageCounter.advertiser_id == advertiser.id,
            AdvertiserUsageCounter.period == period,
            AdvertiserUsageCounter.starts_on == starts_on)).scalar() or 0

    recent = db.session.execute(
        sa.select(CallAttempt.status)
        .where(CallAttempt.advertiser_id == advertiser.id, CallAttempt.status.in_(usage.JUDGED))
        .order_by(CallAttempt.started_at.desc(), CallAttempt.id.desc()).limit(20)
    ).scalars().all()
    return (counted("day", day), counted("month", day.replace(day=1)),
            usage.live_legs(db.session, advertiser.id, now),
            tuple(status in usage.ANSWERED for status in recent))


def test_a_pool_larger_than_one_query_gets_each_advertisers_own_usage(app):
    rng = random.Random(7)
    with app.app_context():
        pool = make_pool(db.session)
        zones = ["America/Chicago", "America/New_York", "Pacific/Honolulu", "Asia/Tokyo"]
        advertisers = [make_advertiser(db.session, pool, timezone=rng.choice(zones))
                       for _ in range(usage.RECENT_QUERY_PARTS + 30)]
        call = Call(call_sid="CA" + "7" * 32, to_number="+18885550101", started_at=NOW)
        db.session.add(call)
        db.session.flush()
        legs, statuses = 0, list(AttemptStatus)
        for advertiser in advertisers:
            day = usage.local_day(advertiser, NOW)
            for period, starts_on in (("day", day), ("month", day.replace(day=1)),
                                      ("day", day - timedelta(days=1))):
                if rng.random() < 0.7:
                    db.session.add(AdvertiserUsageCounter(
                        advertiser_id=advertiser.id, period=period, starts_on=starts_on,
                        calls=rng.randrange(1, 50)))
            for _ in range(rng.randrange(0, 26)):
                legs += 1
                started = NOW - timedelta(minutes=rng.randrange(1, 5000))
                db.session.add(CallAttempt(
                    call=call, attempt_number=legs, destination_kind="advertiser",
                    advertiser_id=advertiser.id, dialed_number=advertiser.phone,
                    status=rng.choice(statuses), started_at=started,
                    expires_at=NOW + timedelta(minutes=rng.choice([-5, 5]))))
        db.session.commit()

        found = usage.usage_for(db.session, advertisers, NOW)

        assert set(found) == {advertiser.id for advertiser in advertisers}
        for advertiser in advertisers:
            figures = found[advertiser.id]
            assert (figures.calls_today, figures.calls_this_month, figures.live_legs,
                    figures.recent_answers) == one_by_one(advertiser, NOW), advertiser.id
        assert any(found[a.id].live_legs for a in advertisers)
        assert any(len(found[a.id].recent_answers) == 20 for a in advertisers)
