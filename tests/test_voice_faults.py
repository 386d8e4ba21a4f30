"""Faults a phone call must survive: Twilio's retries, lost callbacks, a database that goes away.

The slower faults (a gunicorn worker killed mid-call, the database stopped and started under
load) are in ``benchmarks/faults.py``; these are the parts that are quick and certain in-process.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
import sqlalchemy as sa

from config import normalize_database_url
from finder.calls.models import (
    AdvertiserUsageCounter,
    AttemptStatus,
    AuditEntry,
    CallStatus,
)
from finder.calls.twiml import FALLBACK_TWIML
from finder.extensions import db
from tests.conftest import make_app
from tests.databases import POSTGRES_ADMIN_URL
from tests.voice_helpers import (
    NOW,
    SAMHSA,
    build_pool,
    call_params,
    dialed_number,
    dials,
    get_call,
    new_call_sid,
    post,
    twiml,
)


@pytest.fixture
def clock():
    """The routing clock, moved by the test."""
    return [NOW]


@pytest.fixture
def voice(app, clock):
    app.config["CLOCK"] = lambda: clock[0]
    return app


def counted(app) -> int:
    """Calls counted against daily caps, all advertisers together."""
    with app.app_context():
        return db.session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(AdvertiserUsageCounter.calls), 0))
            .where(AdvertiserUsageCounter.period == "day")).scalar_one()


def legs(app, sid: str) -> list[tuple]:
    with app.app_context():
        return [(a.dialed_number, a.status) for a in get_call(sid).attempts]


def retried(app, path: str, params: dict, *, at_once: int = 5, after: int = 2) -> set[tuple]:
    """The same signed request ``at_once`` times from as many threads, then ``after`` times
    more: the set of (status, body) answers."""
    barrier = threading.Barrier(at_once)
    answers: list[tuple] = []

    def send():
        client = app.test_client()
        barrier.wait()
        response = post(client, path, params)
        answers.append((response.status_code, response.get_data(as_text=True)))

    threads = [threading.Thread(target=send) for _ in range(at_once)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client = app.test_client()
    for _ in range(after):
        response = post(client, path, params)
        answers.append((response.status_code, response.get_data(as_text=True)))
    assert len(answers) == at_once + after
    return set(answers)


def twiml_of(body: str) -> ET.Element:
    root = ET.fromstring(body)
    assert root.tag == "Response"
    return root


def dial_params(sid: str, status: str) -> dict:
    return {"CallSid": sid, "CallStatus": "in-progress", "DialCallStatus": status,
            "DialCallDuration": "40" if status == "completed" else "0"}


# -- Twilio retries every step of a call ----------------------------------------------------

def test_retries_of_a_gather_and_of_status_callbacks_change_nothing(voice):
    pool = build_pool(voice, advertisers=1)
    tw = voice.test_client()
    sid = new_call_sid()
    facility = dials(twiml(post(tw, "/voice/incoming", call_params(sid, pool.facility_number))))
    menu = twiml(post(tw, facility[0].get("action"), dial_params(sid, "no-answer")))
    press = menu.find("Gather").get("action")

    [(status, body)] = retried(voice, press, {"CallSid": sid, "Digits": "1",
                                              "CallStatus": "in-progress"})
    assert status == 200 and body != FALLBACK_TWIML
    forwarded = dials(twiml_of(body))[0]
    assert dialed_number(forwarded) == pool.advertiser_phones[0]
    assert [number for number, _ in legs(voice, sid)] == [pool.facility_phone,
                                                          pool.advertiser_phones[0]]
    assert counted(voice) == 1

    leg_callback = forwarded.find("Number").get("statusCallback")
    answers = retried(voice, leg_callback, {"CallSid": new_call_sid(), "ParentCallSid": sid,
                                            "CallStatus": "in-progress"})
    assert answers == {(204, "")}
    assert legs(voice, sid)[1][1] == AttemptStatus.BRIDGED

    [(status, body)] = retried(voice, forwarded.get("action"), dial_params(sid, "completed"))
    assert status == 200 and [child.tag for child in twiml_of(body)] == ["Hangup"]
    answers = retried(voice, "/voice/status", {"CallSid": sid, "CallStatus": "completed",
                                               "CallDuration": "70"})
    assert answers == {(204, "")}
    with voice.app_context():
        call = get_call(sid)
        assert call.status == CallStatus.COMPLETED and call.duration_seconds == 70
        assert [a.status for a in call.attempts] == [AttemptStatus.FAILED,
                                                     AttemptStatus.COMPLETED]
        outcomes = db.session.execute(sa.select(sa.func.count()).where(
            AuditEntry.call_id == call.id, AuditEntry.kind == "outcome")).scalar_one()
        assert outcomes == 2  # one per leg: the facility's no-answer, the forwarded leg's end
    assert counted(voice) == 1


# -- a leg whose callbacks never come -------------------------------------------------------

def test_a_leg_whose_callbacks_are_lost_expires_and_frees_its_slot(voice, clock):
    pool = build_pool(voice, advertisers=1, concurrent_cap=1)
    tw = voice.test_client()
    stranded = new_call_sid()
    first = dials(twiml(post(tw, "/voice/incoming",
                             call_params(stranded, pool.helpline_number))))
    assert dialed_number(first[0]) == pool.advertiser_phones[0]
    # Its dial action and status callbacks are lost (the worker died, Twilio used the
    # fallback URL): the leg holds the advertiser's only slot.
    with voice.app_context():
        expires_at = get_call(stranded).attempts[0].expires_at

    clock[0] = NOW + timedelta(seconds=30)
    blocked = new_call_sid()
    root = twiml(post(tw, "/voice/incoming", call_params(blocked, pool.helpline_number)))
    assert dialed_number(dials(root)[0]) == SAMHSA
    with voice.app_context():
        decision = db.session.execute(sa.select(AuditEntry.payload).where(
            AuditEntry.call_id == get_call(blocked).id, AuditEntry.kind == "decision")
        ).scalar_one()
        reasons = {r for c in json.loads(decision)["candidates"] for r in c["reasons"]}
        assert "concurrent_cap_reached" in reasons

    clock[0] = expires_at.replace(tzinfo=NOW.tzinfo) + timedelta(seconds=1)
    later = new_call_sid()
    root = twiml(post(tw, "/voice/incoming", call_params(later, pool.helpline_number)))
    assert dialed_number(dials(root)[0]) == pool.advertiser_phones[0]
    assert legs(voice, stranded) == [(pool.advertiser_phones[0], AttemptStatus.EXPIRED)]
    # It was rung, so it still counts for the day; nothing counted it twice.
    assert counted(voice) == 2


# -- the database goes away -----------------------------------------------------------------

@pytest.mark.parametrize("backend", ["postgresql"], indirect=True, scope="session")
def test_routing_resumes_when_every_database_connection_was_dropped(voice):
    """What a database restart does to the app's pool: the next call is routed, no restart."""
    pool = build_pool(voice, advertisers=1)
    tw = voice.test_client()
    root = twiml(post(tw, "/voice/incoming", call_params(new_call_sid(), pool.helpline_number)))
    assert dialed_number(dials(root)[0]) == pool.advertiser_phones[0]
    with voice.app_context():
        database = db.engine.url.database
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        dropped = conn.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": database}).scalar()
    admin.dispose()
    assert dropped >= 1
    sid = new_call_sid()
    root = twiml(post(tw, "/voice/incoming", call_params(sid, pool.helpline_number)))
    assert dialed_number(dials(root)[0]) == pool.advertiser_phones[0]
    assert legs(voice, sid) == [(pool.advertiser_phones[0], AttemptStatus.RESERVED)]


def test_a_database_that_never_answers_gets_the_fallback_within_the_connect_timeout():
    """A server that takes the connection and never speaks (frozen, half up): without a
    connect timeout libpq waits forever and Twilio hears nothing for 15 s."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever answers
        url = normalize_database_url(
            f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/finder_silent")
        assert "connect_timeout=" in url
        app = make_app(url)
        answers: list = []

        def call():
            started = time.monotonic()
            response = post(app.test_client(), "/voice/incoming",
                            call_params(new_call_sid(), "+18885550101"))
            answers.append((response.status_code, response.get_data(as_text=True),
                            time.monotonic() - started))

        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        thread.join(timeout=12)
    assert answers, "the webhook was still waiting for the database after 12 s"
    [(status, body, seconds)] = answers
    assert status == 200 and body == FALLBACK_TWIML
    assert seconds < 10
