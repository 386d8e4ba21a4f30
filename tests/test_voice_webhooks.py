"""The voice webhooks end to end: signed Twilio requests in, TwiML out, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
import time
import xml.etree.ElementTree as ET
from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa

from finder.calls import audit
from finder.calls.callbacks import reveal_number
from finder.calls.models import (
    AdvertiserUsageCounter,
    AttemptStatus,
    CallbackRequest,
    CallStatus,
    WebhookReceipt,
)
from finder.calls.twiml import FALLBACK_TWIML
from finder.extensions import db
from tests.conftest import make_app
from tests.factories import make_advertiser, make_pool, make_zip
from tests.voice_helpers import (
    CALLER,
    CALLER_DIGITS,
    NOW,
    SAMHSA,
    build_pool,
    call_params,
    count_rows,
    dialed_number,
    dials,
    get_call,
    new_call_sid,
    post,
    query_value,
    says,
    signature,
    spoken,
    twiml,
    verbs,
)


@pytest.fixture
def voice(app):
    app.config["CLOCK"] = lambda: NOW
    return app


@pytest.fixture
def tw(voice):
    """A test client standing in for Twilio."""
    return voice.test_client()


def ring(tw, to: str, sid: str | None = None, **extra):
    sid = sid or new_call_sid()
    return sid, twiml(post(tw, "/voice/incoming", call_params(sid, to, **extra)))


def dial_result(tw, sid: str, dial, status: str = "no-answer", duration: int = 0,
                call_status: str = "in-progress"):
    path = dial.get("action")
    assert path.startswith("/voice/dial-result?attempt=")
    params = {"CallSid": sid, "DialCallStatus": status, "DialCallDuration": str(duration),
              "CallStatus": call_status, "To": "x", "From": CALLER}
    return twiml(post(tw, path, params))


def press(tw, sid: str, action: str, digits: str | None, from_: str | None = CALLER):
    params = {"CallSid": sid, "CallStatus": "in-progress"}
    if digits is not None:
        params["Digits"] = digits
    if from_ is not None:
        params["From"] = from_
    return twiml(post(tw, action, params))


def attempts(app, sid: str) -> list[tuple]:
    """(destination kind, number dialled, status, advertiser id) of each leg, in order."""
    with app.app_context():
        call = get_call(sid)
        return [(a.destination_kind, a.dialed_number, a.status, a.advertiser_id)
                for a in call.attempts]


def day_calls(app, advertiser_id: int) -> int:
    with app.app_context():
        return db.session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(AdvertiserUsageCounter.calls), 0)).where(
                AdvertiserUsageCounter.advertiser_id == advertiser_id,
                AdvertiserUsageCounter.period == "day",
            )
        ).scalar_one()


# -- facility numbers -----------------------------------------------------------------------

def test_a_facility_number_rings_exactly_that_facility(voice, tw):
    pool = build_pool(voice)
    sid, root = ring(tw, pool.facility_number)
    [dial] = dials(root)
    assert dialed_number(dial) == pool.facility_phone
    assert dial.get("answerOnBridge") == "true"
    assert dial.get("timeout") == str(voice.config["CALL_RING_SECONDS"])
    attempt_id = query_value(dial.get("action"), "attempt")
    number = dial.find("Number")
    assert number.get("statusCallback") == f"/voice/status?attempt={attempt_id}"
    assert number.get("statusCallbackEvent") == "initiated ringing answered completed"
    assert number.get("sendDigits") is None
    assert "advertiser" not in spoken(root)
    assert attempts(voice, sid) == [("facility", pool.facility_phone, AttemptStatus.RESERVED,
                                     None)]
    with voice.app_context():
        call = get_call(sid)
        assert call.number_kind == "facility"
        assert call.caller_last_four == "0142" and call.caller_state == "TX"


def test_a_facility_extension_is_keyed_in_after_answer(voice, tw):
    pool = build_pool(voice, facility_phone="+14345550124;ext=207")
    _, root = ring(tw, pool.facility_number)
    number = dials(root)[0].find("Number")
    assert number.text == "+14345550124"
    assert number.get("sendDigits") == "207"


def test_a_facility_without_a_phone_offers_samhsa(voice, tw):
    pool = build_pool(voice, facility_phone=None)
    sid, root = ring(tw, pool.facility_number)
    assert "do not have a working phone number" in spoken(root)
    assert [dialed_number(d) for d in dials(root)] == [SAMHSA]
    with voice.app_context():
        assert get_call(sid).outcome == "facility_no_phone"


def test_an_answered_facility_call_hangs_up_after_and_is_recorded(voice, tw):
    pool = build_pool(voice)
    sid, root = ring(tw, pool.facility_number)
    after = dial_result(tw, sid, dials(root)[0], status="completed", duration=95)
    assert verbs(after) == ["Hangup"]
    with voice.app_context():
        call = get_call(sid)
        assert call.outcome == "connected_facility"
        assert call.attempts[0].status == AttemptStatus.COMPLETED
        assert call.attempts[0].duration_seconds == 95


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed", "canceled"])
def test_an_unanswered_facility_offers_the_menu_then_samhsa(voice, tw, status):
    pool = build_pool(voice)
    sid, root = ring(tw, pool.facility_number)
    menu = dial_result(tw, sid, dials(root)[0], status=status)
    assert verbs(menu) == ["Say", "Gather", "Redirect"]
    assert says(menu)[0] == "The facility did not answer."
    gather = menu.find("Gather")
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == "/voice/gather?step=facility-unanswered"
    assert gather.get("timeout") == "8"
    menu_text = " ".join(gather.itertext())
    assert "Press 1 to be forwarded to a quality treatment center" in menu_text
    assert "licensed treatment facility that advertises on finder" in menu_text
    assert "Press 2 to ask for a call back" in menu_text
    assert attempts(voice, sid)[0][2] == AttemptStatus.FAILED
    # No input: Twilio follows the Redirect; the caller is told, then SAMHSA rings as a
    # recorded leg. Never a silent transfer.
    silence = press(tw, sid, menu.find("Redirect").text, None)
    assert "We did not receive a choice" in says(silence)[0]
    assert "SAMHSA National Helpline" in says(silence)[0]
    assert dialed_number(silence.find("Dial")) == SAMHSA
    assert silence.find("Dial").get("action").startswith("/voice/dial-result?attempt=")
    assert [a[0] for a in attempts(voice, sid)] == ["facility", "samhsa"]


def test_pressing_1_names_the_advertiser_then_dials_it(voice, tw):
    pool = build_pool(voice, advertisers=1)
    sid, root = ring(tw, pool.facility_number)
    menu = dial_result(tw, sid, dials(root)[0])
    forward = press(tw, sid, menu.find("Gather").get("action"), "1")
    assert verbs(forward) == ["Say", "Say", "Dial"]
    text = spoken(forward)
    assert "forwarded to a quality treatment center" in text
    assert pool.advertiser_names[0] in text
    assert "paid advertiser" in text
    assert dialed_number(dials(forward)[0]) == pool.advertiser_phones[0]
    assert [a[0] for a in attempts(voice, sid)] == ["facility", "advertiser"]
    assert day_calls(voice, pool.advertiser_ids[0]) == 1


def test_pressing_1_uses_the_configured_forward_pool(voice, tw):
    pool = build_pool(voice, advertisers=1)
    with voice.app_context():
        other = make_pool(db.session, name="Forward pool (fictional)")
        chosen = make_advertiser(db.session, other, name="Example Forward Center (fictional)")
        phone = chosen.phone
        db.session.commit()
    voice.config["FORWARD_POOL"] = "Forward pool (fictional)"
    sid, root = ring(tw, pool.facility_number)
    menu = dial_result(tw, sid, dials(root)[0])
    forward = press(tw, sid, menu.find("Gather").get("action"), "1")
    assert "Example Forward Center (fictional)" in spoken(forward)
    assert dialed_number(dials(forward)[0]) == phone


def test_pressing_2_stores_an_encrypted_call_back_request(voice, tw):
    pool = build_pool(voice)
    sid, root = ring(tw, pool.facility_number)
    menu = dial_result(tw, sid, dials(root)[0])
    done = press(tw, sid, menu.find("Gather").get("action"), "2")
    assert "call you back at the number ending in 0 1 4 2" in spoken(done)
    assert verbs(done)[-1] == "Hangup"
    with voice.app_context():
        [request] = db.session.execute(sa.select(CallbackRequest)).scalars().all()
        assert request.last_four == "0142"
        assert request.facility_id == pool.facility_id
        assert CALLER_DIGITS not in request.number_encrypted
        assert reveal_number(request, voice.config["CALLBACK_ENCRYPTION_KEY"]) == CALLER
        assert get_call(sid).outcome == "callback_requested"
        assert audit.verify(db.session).intact
    assert_number_nowhere_in_clear(voice, CALLER_DIGITS)


def assert_number_nowhere_in_clear(app, digits: str) -> None:
    """Search every text column of every table for the caller's digits."""
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, sa.String | sa.Text | sa.JSON):
                    continue
                text = sa.cast(column, sa.Text)
                found = db.session.execute(
                    sa.select(sa.func.count()).select_from(table).where(
                        text.contains(digits[-10:])
                    )
                ).scalar_one()
                assert found == 0, f"{table.name}.{column.name} holds the caller's number"


def test_a_withheld_number_cannot_get_a_call_back_and_hears_samhsa(voice, tw):
    pool = build_pool(voice)
    sid, root = ring(tw, pool.facility_number, from_="anonymous")
    menu = dial_result(tw, sid, dials(root)[0])
    done = press(tw, sid, menu.find("Gather").get("action"), "2", from_="anonymous")
    assert "a call back is not possible" in spoken(done)
    assert dialed_number(dials(done)[0]) == SAMHSA
    with voice.app_context():
        assert db.session.execute(sa.select(sa.func.count(CallbackRequest.id))).scalar() == 0


def test_another_key_repeats_the_menu_once_then_samhsa(voice, tw):
    pool = build_pool(voice)
    sid, root = ring(tw, pool.facility_number)
    menu = dial_result(tw, sid, dials(root)[0])
    again = press(tw, sid, menu.find("Gather").get("action"), "7")
    assert says(again)[0] == "Sorry, that was not one of the choices."
    retry_action = again.find("Gather").get("action")
    assert query_value(retry_action, "retry") == "1"
    last = press(tw, sid, retry_action, "9")
    assert verbs(last) == ["Say", "Dial"]
    assert dialed_number(dials(last)[0]) == SAMHSA


# -- helpline numbers -----------------------------------------------------------------------

def test_a_helpline_call_hears_988_and_who_answers_then_rings_them(voice, tw):
    pool = build_pool(voice)
    sid, root = ring(tw, pool.helpline_number)
    assert verbs(root) == ["Say", "Say", "Dial"]
    first, second = says(root)
    assert first == "If you are in crisis, hang up and call 9 8 8."
    chosen = pool.advertiser_names.index(next(n for n in pool.advertiser_names if n in second))
    assert second == (f"Your call will be answered by {pool.advertiser_names[chosen]}, a "
                      "licensed treatment facility and paid advertiser on this site. Calls are "
                      "private and confidential.")
    [dial] = dials(root)
    assert dialed_number(dial) == pool.advertiser_phones[chosen]
    with voice.app_context():
        call = get_call(sid)
        assert call.number_kind == "helpline"
        [entry] = [e for e in audit.rows_for_call(db.session, call.id) if e.kind == "decision"]
        assert '"via":"helpline"' in entry.payload


def test_failover_names_the_next_advertiser(voice, tw):
    pool = build_pool(voice, advertisers=2)
    sid, root = ring(tw, pool.helpline_number)
    first_phone = dialed_number(dials(root)[0])
    first = pool.advertiser_names[pool.advertiser_phones.index(first_phone)]
    second = next(n for n in pool.advertiser_names if n != first)
    after = dial_result(tw, sid, dials(root)[0], status="busy")
    assert spoken(after) == (f"{first} did not answer. Connecting you to {second}, a licensed "
                             "treatment facility and paid advertiser on this site.")
    assert dialed_number(dials(after)[0]) == pool.advertiser_phones[
        pool.advertiser_names.index(second)]
    # The failed advertiser's reservation was given back.
    assert day_calls(voice, pool.advertiser_ids[pool.advertiser_names.index(first)]) == 0


def test_exhausted_attempts_end_at_samhsa(voice, tw):
    pool = build_pool(voice, advertisers=3, max_attempts=2)
    sid, root = ring(tw, pool.helpline_number)
    second = dial_result(tw, sid, dials(root)[0])
    third = dial_result(tw, sid, dials(second)[0])
    assert "SAMHSA National Helpline" in spoken(third)
    assert dialed_number(dials(third)[0]) == SAMHSA
    assert [a[0] for a in attempts(voice, sid)] == ["advertiser", "advertiser", "samhsa"]
    # Even SAMHSA not answering is not silence: the caller hears its number, then the call ends.
    last = dial_result(tw, sid, dials(third)[0])
    assert verbs(last) == ["Say", "Hangup"] and "6 6 2" in spoken(last)
    with voice.app_context():
        assert get_call(sid).outcome == "samhsa_unanswered"


def test_an_empty_pool_connects_to_samhsa_honestly(voice, tw):
    pool = build_pool(voice, advertisers=0)
    sid, root = ring(tw, pool.helpline_number)
    text = spoken(root)
    assert text.startswith("If you are in crisis")
    assert "connecting you to the samhsa national helpline, free and confidential" in text.lower()
    assert "paid advertiser" not in text
    assert dialed_number(dials(root)[0]) == SAMHSA
    assert attempts(voice, sid)[0][0] == "samhsa"


def test_ineligible_advertisers_are_never_rung(voice, tw):
    pool = build_pool(voice, advertisers=2, active=False)
    _, root = ring(tw, pool.helpline_number)
    assert dialed_number(dials(root)[0]) == SAMHSA


def test_a_pool_that_asks_for_a_zip_routes_by_the_keyed_zip(voice, tw):
    pool = build_pool(voice, advertisers=1, ask_for_zip=True, states=("OK",))
    with voice.app_context():
        make_zip(db.session, "73102", "OK", "Oklahoma City")
        db.session.commit()
    sid, root = ring(tw, pool.helpline_number)
    assert verbs(root) == ["Say", "Gather", "Redirect"]
    assert says(root)[0].startswith("If you are in crisis")
    gather = root.find("Gather")
    assert gather.get("numDigits") == "5"
    assert gather.get("action") == "/voice/gather?step=zip"
    assert gather.get("timeout") == "8"
    assert "enter your 5-digit ZIP code" in " ".join(gather.itertext())
    routed = press(tw, sid, gather.get("action"), "73102")
    assert pool.advertiser_names[0] in spoken(routed)
    assert dialed_number(dials(routed)[0]) == pool.advertiser_phones[0]
    with voice.app_context():
        call = get_call(sid)
        assert (call.caller_state, call.state_signal) == ("OK", "zip")


@pytest.mark.parametrize("digits", [None, "99999"])
def test_no_zip_or_an_unknown_zip_keeps_the_area_code_state(voice, tw, digits):
    pool = build_pool(voice, advertisers=1, ask_for_zip=True, states=("TX",))
    sid, root = ring(tw, pool.helpline_number)
    action = root.find("Redirect").text if digits is None else root.find("Gather").get("action")
    routed = press(tw, sid, action, digits)
    assert dialed_number(dials(routed)[0]) == pool.advertiser_phones[0]
    with voice.app_context():
        assert get_call(sid).state_signal == "area_code"


def test_a_caller_who_hangs_up_during_a_ring_is_not_routed_further(voice, tw):
    pool = build_pool(voice, advertisers=2)
    sid, root = ring(tw, pool.helpline_number)
    after = dial_result(tw, sid, dials(root)[0], status="canceled", call_status="completed")
    assert verbs(after) == ["Hangup"]
    assert len(attempts(voice, sid)) == 1


# -- unknown numbers ------------------------------------------------------------------------

def test_an_unknown_number_is_polite_connects_samhsa_and_is_logged(voice, tw, caplog):
    build_pool(voice)
    caplog.set_level(logging.WARNING, logger="finder.calls")
    sid, root = ring(tw, "+13035550177")
    text = spoken(root)
    assert text.startswith("This number is not in service at finder.")
    assert dialed_number(dials(root)[0]) == SAMHSA
    with voice.app_context():
        call = get_call(sid)
        assert call.number_kind is None and call.outcome == "unknown_number"
    assert "+13035550177" in caplog.text
    assert CALLER_DIGITS not in caplog.text


# -- idempotency ----------------------------------------------------------------------------

def test_a_retried_step_answers_the_same_and_counts_once(voice, tw):
    pool = build_pool(voice, advertisers=1)
    sid = new_call_sid()
    params = call_params(sid, pool.helpline_number)
    first = post(tw, "/voice/incoming", params)
    second = post(tw, "/voice/incoming", params)
    assert first.get_data() == second.get_data()
    assert len(attempts(voice, sid)) == 1
    assert day_calls(voice, pool.advertiser_ids[0]) == 1
    dial = dials(twiml(first))[0]
    one = dial_result(tw, sid, dial, status="busy")
    two = dial_result(tw, sid, dial, status="busy")
    assert ET.tostring(one) == ET.tostring(two)
    assert len(attempts(voice, sid)) == 2  # the first advertiser, then SAMHSA: once
    with voice.app_context():
        assert db.session.execute(sa.select(sa.func.count(WebhookReceipt.id))).scalar() == 2
        assert audit.verify(db.session).intact


def test_concurrent_duplicates_route_once(voice, tw):
    pool = build_pool(voice, advertisers=1)
    sid = new_call_sid()
    params = call_params(sid, pool.helpline_number)
    barrier = threading.Barrier(6)
    bodies: list[bytes] = []

    def hit():
        client = voice.test_client()
        barrier.wait()
        response = post(client, "/voice/incoming", params)
        assert response.status_code == 200
        bodies.append(response.get_data())

    threads = [threading.Thread(target=hit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(bodies) == 6 and len(set(bodies)) == 1
    assert FALLBACK_TWIML.encode() not in bodies
    assert len(attempts(voice, sid)) == 1
    assert day_calls(voice, pool.advertiser_ids[0]) == 1


# -- failures never end in silence ----------------------------------------------------------

def test_a_broken_database_answers_the_fallback_and_the_call_is_recorded_when_it_ends(
        voice, tw, caplog):
    pool = build_pool(voice)
    with voice.app_context():
        db.session.execute(sa.text("DROP TABLE call_attempt"))
        db.session.commit()
    caplog.set_level(logging.ERROR, logger="finder.calls")
    sid = new_call_sid()
    response = post(tw, "/voice/incoming", call_params(sid, pool.facility_number))
    assert response.status_code == 200
    assert response.get_data(as_text=True) == FALLBACK_TWIML
    assert "failed" in caplog.text and CALLER_DIGITS not in caplog.text
    with voice.app_context():
        # A database error is not retried while the caller waits: nothing is written yet, and
        # a Twilio retry of the step would route again.
        assert db.session.execute(sa.text("SELECT count(*) FROM webhook_receipt")).scalar() == 0
        assert db.session.execute(sa.text("SELECT count(*) FROM call")).scalar() == 0
    final = post(tw, "/voice/status", {**call_params(sid, pool.facility_number),
                                       "CallStatus": "completed", "CallDuration": "95"})
    assert final.status_code == 204
    with voice.app_context():
        call = get_call(sid)
        assert (call.status, call.outcome, call.duration_seconds) == (
            CallStatus.COMPLETED, "fallback_samhsa", 95)
        assert call.caller_last_four == CALLER_DIGITS[-4:] and call.caller_hash
        assert (call.ended_at - call.started_at).total_seconds() == 95
        [entry] = audit.rows_for_call(db.session, call.id)
        assert '"event":"recorded_at_end"' in entry.payload
        assert audit.verify(db.session).intact


def test_a_late_dial_result_after_the_call_ended_routes_nothing(voice, tw):
    pool = build_pool(voice)
    sid, first = ring(tw, pool.helpline_number)
    post(tw, "/voice/status", {"CallSid": sid, "CallStatus": "completed", "CallDuration": "20"})
    # The dial result was delayed; its CallStatus is stale.
    late = dial_result(tw, sid, dials(first)[0], status="no-answer", call_status="in-progress")
    assert verbs(late) == ["Hangup"]
    with voice.app_context():
        call = get_call(sid)
        assert len(call.attempts) == 1 and call.attempts[0].status == AttemptStatus.FAILED
        counted = db.session.execute(sa.select(AdvertiserUsageCounter.calls)).scalars().all()
        assert counted and set(counted) == {0}  # the canceled leg gave its call back


def test_a_step_that_fails_is_recorded_on_its_call(voice, tw, monkeypatch):
    pool = build_pool(voice)
    sid = new_call_sid()
    ring(tw, pool.helpline_number, sid)

    def broken(*args, **kwargs):
        raise RuntimeError("routing broke")

    monkeypatch.setattr("finder.calls.flow.finish_attempt", broken)
    response = post(tw, "/voice/dial-result?attempt=1",
                    {"CallSid": sid, "DialCallStatus": "no-answer", "CallStatus": "in-progress"})
    assert response.get_data(as_text=True) == FALLBACK_TWIML
    with voice.app_context():
        call = get_call(sid)
        outcomes = [e.payload for e in audit.rows_for_call(db.session, call.id)
                    if e.kind == "outcome"]
        assert len(outcomes) == 1 and '"error":"RuntimeError"' in outcomes[0]
        assert '"step":"dial-result:attempt=1"' in outcomes[0]
        assert audit.verify(db.session).intact


def test_an_unreachable_database_answers_the_fallback():
    app = make_app("postgresql+psycopg://postgres@127.0.0.1:1/finder_nowhere",
                   CLOCK=lambda: NOW)
    client = app.test_client()
    for path, params in [
        ("/voice/incoming", call_params(new_call_sid(), "+18885550101")),
        ("/voice/dial-result?attempt=1", {"CallSid": "CA1", "DialCallStatus": "busy"}),
        ("/voice/gather?step=facility-unanswered", {"CallSid": "CA1", "Digits": "1"}),
        ("/voice/fallback", {"CallSid": "CA1", "ErrorCode": "11200"}),
    ]:
        response = post(client, path, params)
        assert response.status_code == 200
        assert response.get_data(as_text=True) == FALLBACK_TWIML


def test_the_fallback_endpoint_needs_no_database():
    # No schema at all: an empty in-memory SQLite database.
    app = make_app("sqlite://")
    client = app.test_client()
    root = twiml(post(client, "/voice/fallback", {"CallSid": "CA1", "ErrorCode": "11200"}))
    assert spoken(root).startswith("We're sorry, we could not connect your call.")
    assert dialed_number(dials(root)[0]) == SAMHSA
    url = "/voice/fallback?CallSid=CA1"
    signed = client.get(url, headers={"X-Twilio-Signature": signature(app, "http://localhost"
                                                                            + url, {})})
    assert signed.status_code == 200 and signed.get_data(as_text=True) == FALLBACK_TWIML
    assert client.get(url).status_code == 403


def test_a_gather_for_an_unknown_call_falls_back_to_samhsa(voice, tw):
    root = press(tw, new_call_sid(), "/voice/gather?step=facility-unanswered", "1")
    assert dialed_number(dials(root)[0]) == SAMHSA


# -- status callbacks -----------------------------------------------------------------------

def test_status_callbacks_close_legs_and_calls(voice, tw):
    pool = build_pool(voice, advertisers=1)
    sid, root = ring(tw, pool.helpline_number)
    number = dials(root)[0].find("Number")
    leg_url = number.get("statusCallback")
    leg_sid = new_call_sid()
    for event in ("initiated", "ringing", "in-progress"):
        response = post(tw, leg_url, {"CallSid": leg_sid, "ParentCallSid": sid,
                                      "CallStatus": event})
        assert response.status_code == 204
    with voice.app_context():
        attempt = get_call(sid).attempts[0]
        assert attempt.status == AttemptStatus.BRIDGED and attempt.leg_sid == leg_sid
        expires = attempt.expires_at  # naive UTC on SQLite
        assert expires.replace(tzinfo=expires.tzinfo or UTC) > NOW + timedelta(hours=1)
    post(tw, leg_url, {"CallSid": leg_sid, "ParentCallSid": sid, "CallStatus": "completed",
                       "CallDuration": "61"})
    with voice.app_context():
        attempt = get_call(sid).attempts[0]
        assert attempt.status == AttemptStatus.COMPLETED and attempt.duration_seconds == 61
    # The <Dial action> still arrives: the attempt stays completed, the caller hears nothing more.
    assert verbs(dial_result(tw, sid, dials(root)[0], status="completed", duration=61)) == [
        "Hangup"]
    response = post(tw, "/voice/status", {"CallSid": sid, "CallStatus": "completed",
                                          "CallDuration": "75"})
    assert response.status_code == 204
    with voice.app_context():
        call = get_call(sid)
        assert call.status == CallStatus.COMPLETED and call.duration_seconds == 75
        assert call.outcome == "connected_advertiser"
        assert audit.verify(db.session).intact
    assert day_calls(voice, pool.advertiser_ids[0]) == 1


def test_a_call_that_ends_mid_ring_releases_its_live_leg(voice, tw):
    pool = build_pool(voice, advertisers=1)
    sid, _ = ring(tw, pool.helpline_number)
    assert day_calls(voice, pool.advertiser_ids[0]) == 1
    post(tw, "/voice/status", {"CallSid": sid, "CallStatus": "canceled", "CallDuration": "4"})
    with voice.app_context():
        call = get_call(sid)
        assert call.status == CallStatus.COMPLETED
        assert call.attempts[0].status == AttemptStatus.FAILED
    assert day_calls(voice, pool.advertiser_ids[0]) == 0


def test_a_leg_status_for_another_call_is_ignored(voice, tw):
    pool = build_pool(voice, advertisers=1)
    sid, root = ring(tw, pool.helpline_number)
    leg_url = dials(root)[0].find("Number").get("statusCallback")
    post(tw, leg_url, {"CallSid": new_call_sid(), "ParentCallSid": new_call_sid(),
                       "CallStatus": "in-progress"})
    assert attempts(voice, sid)[0][2] == AttemptStatus.RESERVED


# -- the whole flow, audited ----------------------------------------------------------------

def test_the_audit_chain_is_intact_after_a_full_flow(voice, tw):
    pool = build_pool(voice, advertisers=2)
    sid, root = ring(tw, pool.facility_number)
    menu = dial_result(tw, sid, dials(root)[0], status="no-answer")
    forward = press(tw, sid, menu.find("Gather").get("action"), "1")
    failover = dial_result(tw, sid, dials(forward)[0], status="busy")
    dial_result(tw, sid, dials(failover)[0], status="completed", duration=30)
    post(tw, "/voice/status", {"CallSid": sid, "CallStatus": "completed", "CallDuration": "80"})
    with voice.app_context():
        report = audit.verify(db.session)
        assert report.intact, report.problem
        call = get_call(sid)
        kinds = [(e.kind, e.attempt_number) for e in audit.rows_for_call(db.session, call.id)]
        assert kinds == [("decision", 1), ("outcome", 1), ("decision", 2), ("outcome", 2),
                         ("decision", 3), ("outcome", 3)]
        assert call.outcome == "connected_advertiser"
    assert count_rows(voice)["call_attempt"] == 3


# --- Twilio's deadline ---------------------------------------------------------------------

def test_a_webhook_that_reached_the_proxy_too_long_ago_is_answered_by_the_fallback(voice, tw):
    pool = build_pool(voice)
    sid = new_call_sid()
    # nginx stamped the request 20 s ago (it waited in a queue): Twilio has given up by now.
    stale = {"X-Request-Start": f"t={time.time() - 20:.3f}"}
    response = post(tw, "/voice/incoming", call_params(sid, pool.helpline_number),
                    headers=stale)
    assert response.get_data(as_text=True) == FALLBACK_TWIML
    with voice.app_context():
        call = get_call(sid)
        assert call.outcome == "fallback_samhsa" and call.attempts == []
        [entry] = audit.rows_for_call(db.session, call.id)
        assert '"error":"DeadlinePassed"' in entry.payload
        assert "not ready before Twilio's deadline" in entry.payload
        assert db.session.execute(sa.select(AdvertiserUsageCounter)).first() is None


def test_a_step_that_overruns_the_deadline_is_rolled_back(voice, tw, monkeypatch):
    from finder.calls import flow

    pool = build_pool(voice)
    sid = new_call_sid()
    voice.config["VOICE_DEADLINE_SECONDS"] = 0.5
    routed = flow.route_helpline

    def slow_route(*args, **kwargs):
        leg = routed(*args, **kwargs)
        time.sleep(0.6)  # the step chose and reserved an advertiser, then ran out of time
        return leg

    monkeypatch.setattr(flow, "route_helpline", slow_route)
    response = post(tw, "/voice/incoming", call_params(sid, pool.helpline_number))
    assert response.get_data(as_text=True) == FALLBACK_TWIML
    with voice.app_context():
        call = get_call(sid)
        assert call.outcome == "fallback_samhsa" and call.attempts == []
        assert db.session.execute(sa.select(AdvertiserUsageCounter)).first() is None
        assert db.session.execute(sa.select(sa.func.count()).select_from(WebhookReceipt)
                                  ).scalar_one() == 0
        assert audit.verify(db.session).intact


@pytest.mark.parametrize("header, expected", [
    ("t=1700000000.250", 1700000000.25),          # nginx ${msec}: seconds
    ("t=1700000000250", 1700000000.25),           # milliseconds
    ("t=1700000000250000", 1700000000.25),        # microseconds
    ("1700000000", 1700000000.0),
    ("t=", None), ("t=soon", None), ("t=nan", None), ("t=-5", None), ("", None), (None, None),
])
def test_request_start_header_is_read_in_any_unit(header, expected):
    from finder.calls.views import received_at

    assert received_at(header) == (pytest.approx(expected) if expected else None)


def test_a_request_start_in_the_future_counts_as_now():
    from finder.calls.views import received_at

    assert received_at(f"t={time.time() + 3600:.3f}") <= time.time()
