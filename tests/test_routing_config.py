"""The cached routing configuration: every change to a pool or an advertiser, however it is made,
reaches the next call, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from finder.calls import routing_config
from finder.calls.models import Advertiser, AdvertiserPool
from finder.extensions import db
from tests.factories import make_advertiser
from tests.voice_helpers import NOW as VOICE_NOW
from tests.voice_helpers import (
    build_pool,
    call_params,
    dialed_number,
    dials,
    new_call_sid,
    post,
    twiml,
)


def token(app) -> str:
    with app.app_context():
        return db.session.execute(sa.select(routing_config.TOKEN)).scalar_one()


def change(app, statement) -> None:
    """As another process would (an admin, a script, psql): plain SQL, committed."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(statement)


def rung(app) -> str:
    """The number the next helpline call rings first."""
    app.config["CLOCK"] = lambda: VOICE_NOW
    client = app.test_client()
    response = post(client, "/voice/incoming", call_params(new_call_sid(), "+18885550101"))
    return dialed_number(dials(twiml(response))[0])


def test_every_change_to_a_pool_or_an_advertiser_changes_the_token(app):
    setup = build_pool(app, advertisers=1)
    seen = {token(app)}
    statements = [
        sa.update(Advertiser).values(weight=7),
        sa.update(AdvertiserPool).values(max_attempts=2),
        sa.delete(Advertiser).where(Advertiser.id == setup.advertiser_ids[0]),
    ]
    for statement in statements:
        change(app, statement)
        seen.add(token(app))
    with app.app_context():
        make_advertiser(db.session, db.session.get(AdvertiserPool, setup.pool_id))
        db.session.commit()
    seen.add(token(app))
    assert len(seen) == len(statements) + 2  # each change gave a token never seen before


def test_a_step_uses_the_cache_until_the_configuration_changes(app):
    build_pool(app, advertisers=2)
    with app.app_context():
        first = routing_config.current(db.session)
        db.session.rollback()
        assert routing_config.current(db.session) is first  # nothing changed: no reload
        db.session.rollback()
    change(app, sa.update(Advertiser).values(weight=3))
    with app.app_context():
        reloaded = routing_config.current(db.session)
        assert reloaded is not first
        assert {a.weight for pool in reloaded.pools.values() for a in pool.advertisers} == {3}


def test_an_advertiser_deactivated_elsewhere_is_never_rung_again(app):
    setup = build_pool(app, advertisers=2)
    first_choice = rung(app)
    assert first_choice in setup.advertiser_phones
    # Another process turns that advertiser off: this process's cache must not ring it again.
    change(app, sa.update(Advertiser).where(Advertiser.phone == first_choice)
           .values(active=False))
    for _ in range(3):
        assert rung(app) != first_choice


def test_a_new_advertiser_in_a_higher_tier_gets_the_next_call(app):
    setup = build_pool(app, advertisers=1, tier=2)
    assert rung(app) == setup.advertiser_phones[0]
    with app.app_context():
        better = make_advertiser(db.session, db.session.get(AdvertiserPool, setup.pool_id),
                                 tier=1)
        db.session.commit()
        phone = better.phone
    assert rung(app) == phone
