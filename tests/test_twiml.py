"""TwiML builders: what each document makes Twilio do, parsed with ElementTree."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from finder.calls import twiml
from finder.calls.routing import SAMHSA_HELPLINE

SPEC = twiml.DialSpec(number="+15125550101", action="/voice/dial-result?attempt=7",
                      status_callback="/voice/status?attempt=7", ring_seconds=20,
                      time_limit=14400, send_digits="ww12")


def parse(text: str) -> ET.Element:
    root = ET.fromstring(text)
    assert root.tag == "Response"
    return root


def tags(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


def test_connect_says_then_dials_with_callbacks():
    root = parse(twiml.connect(["one", "two"], SPEC))
    assert tags(root) == ["Say", "Say", "Dial"]
    assert [say.text for say in root.findall("Say")] == ["one", "two"]
    dial = root.find("Dial")
    assert dial.attrib == {"action": "/voice/dial-result?attempt=7", "method": "POST",
                           "timeout": "20", "timeLimit": "14400", "answerOnBridge": "true"}
    number = dial.find("Number")
    assert number.text == "+15125550101"
    assert number.attrib == {"sendDigits": "ww12", "statusCallback": "/voice/status?attempt=7",
                             "statusCallbackMethod": "POST",
                             "statusCallbackEvent": "initiated ringing answered completed"}


def test_no_extension_means_no_send_digits():
    spec = twiml.DialSpec("+15125550101", "/a", "/s", 20, 60)
    assert "sendDigits" not in parse(twiml.connect([], spec)).find("Dial/Number").attrib


def test_the_fallback_is_static_and_connects_to_samhsa():
    root = parse(twiml.FALLBACK_TWIML)
    assert tags(root) == ["Say", "Dial"]
    assert root.find("Say").text.startswith("We're sorry, we could not connect your call. "
                                            "Connecting you to the SAMHSA National Helpline")
    dial = root.find("Dial")
    assert dial.text == SAMHSA_HELPLINE == "+18006624357"
    assert dial.attrib == {}  # no callback into a possibly broken app


def test_every_samhsa_line_says_where_the_call_goes():
    for line in (twiml.UNKNOWN_NUMBER, twiml.NO_FACILITY_PHONE, twiml.CALLBACK_IMPOSSIBLE,
                 twiml.NOT_UNDERSTOOD_TWICE, twiml.NO_CHOICE_SAMHSA):
        assert line.endswith(twiml.SAMHSA_CONNECT)
    assert twiml.UNKNOWN_NUMBER.startswith("This number is not in service at finder.")
    assert "a call back is not possible" in twiml.CALLBACK_IMPOSSIBLE


def test_the_facility_menu_offers_1_and_2_and_no_input_goes_on_to_a_recorded_step():
    root = parse(twiml.facility_unanswered_menu("/voice/gather?step=facility-unanswered",
                                                "/voice/gather?step=facility-unanswered"
                                                "&no_input=1", repeat=False))
    assert tags(root) == ["Say", "Gather", "Redirect"]
    assert root.find("Say").text == "The facility did not answer."
    gather = root.find("Gather")
    assert gather.attrib == {"action": "/voice/gather?step=facility-unanswered",
                             "method": "POST", "numDigits": "1", "timeout": "8"}
    assert gather.find("Say").text == (
        "Press 1 to be forwarded to a quality treatment center: a licensed treatment facility "
        "that advertises on finder. Press 2 to ask for a call back.")
    assert root.find("Redirect").text.endswith("no_input=1")
    repeated = parse(twiml.facility_unanswered_menu("/x", "/y", repeat=True))
    assert repeated.find("Say").text == "Sorry, that was not one of the choices."


def test_the_zip_prompt_comes_after_the_crisis_line_and_redirects_on_silence():
    root = parse(twiml.ask_for_zip("/voice/gather?step=zip", "/voice/gather?step=zip"))
    assert tags(root) == ["Say", "Gather", "Redirect"]
    assert root.find("Say").text == "If you are in crisis, hang up and call 9 8 8."
    assert root.find("Gather").get("numDigits") == "5"
    assert root.find("Redirect").text == "/voice/gather?step=zip"
    assert root.find("Redirect").get("method") == "POST"


def test_disclosures_name_the_advertiser_as_a_paid_advertiser():
    assert twiml.advertiser_disclosure("Example Center") == (
        "Your call will be answered by Example Center, a licensed treatment facility and paid "
        "advertiser on this site. Calls are private and confidential.")
    assert twiml.forwarded_disclosure("Example Center").startswith(
        "You are being forwarded to a quality treatment center. Your call will be answered by "
        "Example Center")
    assert twiml.failover_line("A", "B") == (
        "A did not answer. Connecting you to B, a licensed treatment facility and paid "
        "advertiser on this site.")
    assert "SAMHSA National Helpline" in twiml.failover_line("A", None)
    assert "SAMHSA National Helpline" in twiml.nobody_available(forwarded=False)


def test_call_back_confirmation_reads_the_last_four_digit_by_digit_and_hangs_up():
    root = parse(twiml.callback_confirmed("0100"))
    assert "We will call you back at the number ending in 0 1 0 0." in root.find("Say").text
    assert tags(root) == ["Say", "Hangup"]


def test_names_are_escaped_not_injected():
    root = parse(twiml.connect([twiml.advertiser_disclosure("A & B <Dial>x</Dial>")], SPEC))
    assert len(root.findall("Dial")) == 1
    assert "A & B <Dial>x</Dial>" in root.find("Say").text


def test_an_unanswered_samhsa_leg_gives_the_number_then_hangs_up():
    root = parse(twiml.samhsa_unanswered())
    assert tags(root) == ["Say", "Hangup"]
    assert "1 8 0 0, 6 6 2, 4 3 5 7" in root.find("Say").text
