"""Caller privacy and the caller's state: keyed hashes, last four, area codes, signals."""

from finder.calls.caller import StateSignal, caller_state, identify, redact, state_from_number

KEY = b"k" * 32


def test_identity_keeps_only_a_keyed_hash_and_last_four():
    ident = identify("(512) 555-0100", KEY)
    assert ident.last_four == "0100"
    assert len(ident.number_hash) == 64
    assert "5125550100" not in ident.number_hash
    assert identify("+1 512 555 0100", KEY) == ident  # same number, any format
    assert identify("+15125550100", b"other-key").number_hash != ident.number_hash


def test_withheld_or_invalid_numbers_have_no_identity():
    for raw in (None, "", "anonymous", "+266696687", "12"):
        assert identify(raw, KEY).number_hash is None


def test_state_from_area_code():
    assert state_from_number("+15125550100") == "TX"
    assert state_from_number("+12125551234") == "NY"
    assert state_from_number("+14349798871") == "VA"
    assert state_from_number("+17875551234") == "PR"
    assert state_from_number("+18005551234") is None  # toll-free: no place
    assert state_from_number("+442079460000") is None


def test_signals_in_order_of_strength():
    assert caller_state("+15125550100", "OK", "CA") == ("OK", StateSignal.ZIP)
    assert caller_state("+15125550100", None, "CA") == ("TX", StateSignal.AREA_CODE)
    assert caller_state("+18005551234", None, "CA") == ("CA", StateSignal.TWILIO_FROM_STATE)
    assert caller_state(None, None, None) == (None, StateSignal.NONE)


def test_redact_masks_phone_numbers_in_log_text():
    text = redact("call from +15125550100 to (434) 979-8871 at step 2")
    assert "5125550100" not in text and "979-8871" not in text
    assert text.endswith("at step 2") and "0100" in text and "8871" in text
