"""Calls that reach finder while its database is down are answered, kept in the spool without
the caller's number, and recorded once the database is back (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa

from finder.calls import audit
from finder.calls.models import Call, CallStatus
from finder.calls.spool import CLAIMED, drain, spool_for
from finder.calls.twiml import FALLBACK_TWIML
from finder.extensions import db
from tests.databases import POSTGRES_ADMIN_URL
from tests.voice_helpers import (
    CALLER,
    CALLER_DIGITS,
    NOW,
    build_pool,
    call_params,
    dials,
    new_call_sid,
    post,
    twiml,
)


@pytest.fixture
def voice(app, tmp_path):
    app.config.update(CLOCK=lambda: NOW, VOICE_SPOOL_DIR=str(tmp_path / "spool"))
    return app


@contextmanager
def database_down(app):
    """The app's database disappears (every connection fails), then comes back as it was."""
    url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    with app.app_context():
        db.engine.dispose()
    if url.get_backend_name() == "sqlite":
        away = f"{url.database}.away"
        os.rename(url.database, away)
        os.mkdir(url.database)  # not a database file: every connection fails
        try:
            yield
        finally:
            with app.app_context():
                db.engine.dispose()
            shutil.rmtree(url.database)
            os.rename(away, url.database)
        return
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def rename(old: str, new: str) -> None:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = :name"), {"name": old})
            conn.execute(sa.text(f'ALTER DATABASE "{old}" RENAME TO "{new}"'))

    rename(url.database, f"{url.database}_away")
    try:
        yield
    finally:
        with app.app_context():
            db.engine.dispose()
        rename(f"{url.database}_away", url.database)
        admin.dispose()


def spooled_text(app) -> str:
    spool = spool_for(app.config)
    return "".join(path.read_text() for path in spool.pending())


def calls(app) -> dict[str, Call]:
    with app.app_context():
        rows = db.session.execute(sa.select(Call)).scalars().all()
        db.session.expunge_all()
        return {call.call_sid: call for call in rows}


def test_calls_answered_while_the_database_is_down_are_recorded_when_it_is_back(voice):
    pool = build_pool(voice)
    client = voice.test_client()
    ended, unfinished = new_call_sid(), new_call_sid()
    with database_down(voice):
        first = post(client, "/voice/incoming", call_params(ended, pool.helpline_number))
        # Twilio's fallback URL, when the app did not answer a call at all.
        second = post(client, "/voice/fallback", call_params(unfinished, pool.facility_number))
        final = post(client, "/voice/status", {**call_params(ended, pool.helpline_number),
                                               "CallStatus": "completed",
                                               "CallDuration": "95"})
        assert first.get_data(as_text=True) == second.get_data(as_text=True) == FALLBACK_TWIML
        assert final.status_code == 200
        text = spooled_text(voice)
        assert ended in text and unfinished in text
        for written in (CALLER, CALLER_DIGITS, CALLER_DIGITS[1:]):
            assert written not in text  # only the keyed hash and the last four
    assert calls(voice) == {}

    result = voice.test_cli_runner().invoke(args=["routing", "drain-spool"])
    assert result.exit_code == 0, result.output
    assert "2 call(s) recorded" in result.output

    recorded = calls(voice)
    assert set(recorded) == {ended, unfinished}
    assert recorded[ended].outcome == recorded[unfinished].outcome == "fallback_samhsa"
    assert (recorded[ended].status, recorded[ended].duration_seconds) == (
        CallStatus.COMPLETED, 95)
    assert recorded[unfinished].status == CallStatus.IN_PROGRESS
    assert recorded[ended].caller_last_four == CALLER_DIGITS[-4:]
    assert recorded[ended].caller_hash and recorded[ended].number_kind == "helpline"
    assert recorded[unfinished].number_kind == "facility"
    with voice.app_context():
        [row] = audit.rows_for_call(db.session, recorded[ended].id)
        assert '"event":"recorded_from_spool"' in row.payload
        assert audit.verify(db.session).intact
    assert spool_for(voice.config).pending() == []

    again = voice.test_cli_runner().invoke(args=["routing", "drain-spool"])
    assert "0 file(s), 0 call(s)" in again.output
    assert set(calls(voice)) == {ended, unfinished}  # nothing recorded twice


def test_a_later_status_callback_records_the_spool_and_routing_goes_on(voice):
    pool = build_pool(voice)
    client = voice.test_client()
    lost = new_call_sid()
    with database_down(voice):
        post(client, "/voice/incoming", call_params(lost, pool.helpline_number))
    # Back up: the next call is routed as usual, and a status callback (nobody waits for its
    # answer) records the spooled call.
    sid = new_call_sid()
    assert dials(twiml(post(client, "/voice/incoming", call_params(sid, pool.helpline_number))))
    assert lost not in calls(voice)
    voice.config["CLOCK"] = lambda: NOW + timedelta(minutes=1)
    done = post(client, "/voice/status", {**call_params(sid, pool.helpline_number),
                                          "CallStatus": "completed", "CallDuration": "30"})
    assert done.status_code == 204
    recorded = calls(voice)
    assert recorded[lost].outcome == "fallback_samhsa"
    assert recorded[sid].status == CallStatus.COMPLETED


def test_a_call_recorded_meanwhile_is_only_ended_by_its_spooled_status(voice):
    pool = build_pool(voice)
    client = voice.test_client()
    sid = new_call_sid()
    assert dials(twiml(post(client, "/voice/incoming", call_params(sid, pool.helpline_number))))
    with database_down(voice):
        post(client, "/voice/status", {**call_params(sid, pool.helpline_number),
                                       "CallStatus": "completed", "CallDuration": "61"})
    result = voice.test_cli_runner().invoke(args=["routing", "drain-spool"])
    assert "1 call(s) recorded or ended" in result.output
    call = calls(voice)[sid]
    assert (call.status, call.duration_seconds, call.outcome) == (
        CallStatus.COMPLETED, 61, "routed_advertiser")
    with voice.app_context():
        assert audit.verify(db.session).intact


def test_unreadable_and_abandoned_spool_files(voice):
    spool = spool_for(voice.config)
    spool.directory.mkdir(parents=True)
    (spool.directory / "101.jsonl").write_text("{not json\n")
    old_claim = spool.directory / f"102.jsonl{CLAIMED}{int(time.time()) - 3600}-102-ab"
    fresh_claim = spool.directory / f"103.jsonl{CLAIMED}{int(time.time())}-103-cd"
    for path in (old_claim, fresh_claim):
        path.write_text("")
    # A drain that died an hour ago left its file: drained again. One draining now: left alone.
    assert {path.name for path in spool.pending()} == {"101.jsonl", old_claim.name}
    with voice.app_context():
        assert drain(db.session, spool) == 0
    left = {path.name for path in spool.directory.iterdir()}
    assert fresh_claim.name in left and old_claim.name not in left
    [bad] = [name for name in left if name.endswith(".bad")]
    assert bad.startswith("101.")  # kept for a person, never drained again
    assert spool.pending() == []
