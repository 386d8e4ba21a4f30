"""Retention and call-back numbers: what ``flask retention purge`` removes, what it must keep
(the audit chain, verifiable), and the encryption of call-back numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from finder.calls import audit
from finder.calls.callbacks import (
    CallbackKeyError,
    cipher,
    create_callback_request,
    reveal_number,
)
from finder.calls.integrity import check_audit
from finder.calls.models import (
    AuditEntry,
    Call,
    CallbackRequest,
    WebhookReceipt,
)
from finder.calls.retention import PURGED_PREFIX, purge
from finder.calls.routing import (
    RoutingSettings,
    finish_attempt,
    mark_leg,
    open_call,
    route_helpline,
)
from finder.db import now_utc
from finder.extensions import db
from tests.factories import make_advertiser, make_facility, make_pool, make_tracking_number

KEY = Fernet.generate_key().decode()
HASH_KEY = b"retention-test-key"
NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
SETTINGS = RoutingSettings()


def place_call(number, started: datetime, n: int, caller="+12145550150") -> Call:
    """A routed, answered call at ``started``, with a receipt and a call-back request."""
    call = open_call(db.session, call_sid=f"CA-retention-{n}", to_number=number.number,
                     from_number=caller, twilio_from_state=None, hash_key=HASH_KEY,
                     now=started)
    leg = route_helpline(db.session, call, number.pool, started, SETTINGS)
    mark_leg(db.session, leg.attempt, event="answered", leg_sid=f"CL-retention-{n}",
             now=started, settings=SETTINGS)
    finish_attempt(db.session, leg.attempt, dial_call_status="completed", duration=30,
                   now=started)
    db.session.add(WebhookReceipt(call_sid=call.call_sid, step="incoming", response="<Response/>",
                                  created_at=started))
    request = create_callback_request(db.session, call, caller, KEY)
    request.created_at = started
    db.session.flush()
    return call


@pytest.fixture
def calls(app):
    """Calls placed 400, 100 and 10 days before NOW."""
    with app.app_context():
        pool = make_pool(db.session)
        make_advertiser(db.session, pool)
        number = make_tracking_number(db.session, pool=pool)
        ages = (400, 100, 10)
        placed = {age: place_call(number, NOW - timedelta(days=age), n).id
                  for n, age in enumerate(ages)}
        db.session.commit()
        yield placed


def audit_rows() -> list[tuple]:
    return [tuple(row) for row in db.session.execute(
        sa.select(AuditEntry.id, AuditEntry.payload, AuditEntry.row_hash).order_by(AuditEntry.id)
    )]


def test_purge_removes_caller_details_and_keeps_the_audit_chain(calls):
    before = audit_rows()
    report = purge(db.session, now=NOW, callback_days=30, call_days=365)
    db.session.commit()
    assert (report.callbacks_deleted, report.calls_anonymized, report.legs_cleared,
            report.receipts_deleted) == (2, 1, 1, 1)

    old = db.session.get(Call, calls[400])
    assert (old.caller_hash, old.caller_last_four) == (None, None)
    assert old.call_sid == f"{PURGED_PREFIX}{old.id}"
    assert old.caller_state == "TX" and old.attempts  # what the call was stays
    assert all(attempt.leg_sid is None for attempt in old.attempts)
    for age in (100, 10):
        kept = db.session.get(Call, calls[age])
        assert kept.caller_hash and kept.caller_last_four == "0150"
        assert kept.attempts[0].leg_sid is not None
    remaining = db.session.execute(sa.select(CallbackRequest.call_id)).scalars().all()
    assert remaining == [calls[10]]
    receipts = db.session.execute(sa.select(WebhookReceipt.call_sid)).scalars().all()
    assert sorted(receipts) == sorted(db.session.get(Call, calls[a]).call_sid for a in (100, 10))

    assert audit_rows() == before
    assert audit.verify(db.session).intact
    assert check_audit(db.session).intact


def test_a_dry_run_changes_nothing_and_a_second_purge_finds_nothing(calls):
    before = audit_rows()
    sids = db.session.execute(sa.select(Call.call_sid).order_by(Call.id)).scalars().all()
    dry = purge(db.session, now=NOW, callback_days=30, call_days=365, dry_run=True)
    db.session.rollback()
    assert (dry.callbacks_deleted, dry.calls_anonymized, dry.receipts_deleted) == (2, 1, 1)
    assert db.session.execute(sa.select(Call.call_sid).order_by(Call.id)).scalars().all() == sids
    assert db.session.execute(sa.select(sa.func.count()).select_from(CallbackRequest)).scalar() \
        == 3

    purge(db.session, now=NOW, callback_days=30, call_days=365)
    db.session.commit()
    again = purge(db.session, now=NOW, callback_days=30, call_days=365)
    assert (again.callbacks_deleted, again.calls_anonymized, again.legs_cleared,
            again.receipts_deleted) == (0, 0, 0, 0)
    # Shorter ages reach the newer calls too; the chain is still untouched.
    purge(db.session, now=NOW, callback_days=0, call_days=0)
    db.session.commit()
    assert db.session.execute(
        sa.select(sa.func.count()).select_from(Call).where(Call.caller_hash.is_not(None))
    ).scalar() == 0
    assert audit_rows() == before and check_audit(db.session).intact


def test_negative_ages_are_refused(calls):
    with pytest.raises(ValueError, match="negative"):
        purge(db.session, now=NOW, callback_days=-1, call_days=365)


def test_the_command_uses_the_configured_ages(app, calls):
    # The calls were placed before a fixed date; the command uses the real clock.
    days = max((now_utc() - NOW).days, 0) + 50
    app.config.update(RETENTION_CALLBACK_DAYS=days, RETENTION_CALL_DAYS=days)
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["retention", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2 would be deleted" in dry.output and "Dry run: nothing was changed." in dry.output
    result = runner.invoke(args=["retention", "purge", "--callback-days", "100000"])
    assert result.exit_code == 0, result.output
    assert "0 were deleted" in result.output
    assert "2 were stripped of caller details" in result.output
    assert "The audit chain was left as it is." in result.output
    with app.app_context():
        assert db.session.execute(
            sa.select(sa.func.count()).select_from(CallbackRequest)).scalar() == 3
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    bad = runner.invoke(args=["retention", "purge", "--call-days", "-1"])
    assert bad.exit_code == 2


# --- call-back numbers -------------------------------------------------------------------------


def test_callback_numbers_are_stored_encrypted_and_revealed_with_the_key(app):
    with app.app_context():
        facility = make_facility(db.session)
        number = make_tracking_number(db.session, facility=facility)
        call = open_call(db.session, call_sid="CA-callback", to_number=number.number,
                         from_number="+12145550161", twilio_from_state=None, hash_key=HASH_KEY,
                         now=NOW)
        request = create_callback_request(db.session, call, "(214) 555-0161", KEY)
        assert request.facility_id == facility.id and request.last_four == "0161"
        assert "2145550161" not in request.number_encrypted
        assert reveal_number(request, KEY) == "+12145550161"
        # A retried webhook gets the same request.
        assert create_callback_request(db.session, call, "+12145550161", KEY) is request
        with pytest.raises(CallbackKeyError, match="another key"):
            reveal_number(request, Fernet.generate_key().decode())
        # Rotation: a new key first, the old one after it, still reads old requests.
        rotated = f"{Fernet.generate_key().decode()},{KEY}"
        assert reveal_number(request, rotated) == "+12145550161"


def test_a_withheld_number_cannot_be_called_back(app):
    with app.app_context():
        pool = make_pool(db.session)
        number = make_tracking_number(db.session, pool=pool)
        call = open_call(db.session, call_sid="CA-anonymous", to_number=number.number,
                         from_number="anonymous", twilio_from_state=None, hash_key=HASH_KEY,
                         now=NOW)
        assert create_callback_request(db.session, call, "anonymous", KEY) is None
        assert db.session.execute(sa.select(CallbackRequest)).first() is None


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (None, "CALLBACK_ENCRYPTION_KEY is not set"),
        ("", "CALLBACK_ENCRYPTION_KEY is not set"),
        ("not-a-fernet-key", "not a valid Fernet key"),
        ("ZGV2LW9ubHk=", "not a valid Fernet key"),
        (f"{KEY},short", "key 2 of 2 in CALLBACK_ENCRYPTION_KEY is not a valid Fernet key"),
        ("é" * 44, "not a valid Fernet key"),
    ],
)
def test_a_bad_key_is_a_clear_error(key, message):
    with pytest.raises(CallbackKeyError, match=message) as error:
        cipher(key)
    assert "Fernet.generate_key()" in str(error.value)


def test_the_development_key_is_a_valid_key(app):
    assert cipher(app.config["CALLBACK_ENCRYPTION_KEY"])
