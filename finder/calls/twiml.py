"""What the caller hears: TwiML documents for every step of a call, built with ``twilio``.

All wording lives here, so what finder promises callers can be read in one place. Builders take
plain values (numbers, names, callback URLs) and return the XML text Twilio expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from twilio.twiml.voice_response import VoiceResponse

from finder.calls.routing import SAMHSA_HELPLINE

SAMHSA_NAME = "the SAMHSA National Helpline"
LEG_EVENTS = "initiated ringing answered completed"
MENU_DIGITS_TIMEOUT = 8

CRISIS = "If you are in crisis, hang up and call 9 8 8."
PRIVATE = "Calls are private and confidential."
SAMHSA_CONNECT = f"Connecting you to {SAMHSA_NAME}, free and confidential, 24 hours a day."
ZIP_PROMPT = ("To reach a treatment center near you, enter your 5-digit ZIP code now. "
              "Or stay on the line.")
FACILITY_UNANSWERED = "The facility did not answer."
FACILITY_MENU = ("Press 1 to be forwarded to a quality treatment center: a licensed treatment "
                 "facility that advertises on finder. Press 2 to ask for a call back.")
MENU_NOT_UNDERSTOOD = "Sorry, that was not one of the choices."
NO_CHOICE = "We did not receive a choice."


@dataclass(frozen=True)
class DialSpec:
    """One destination to ring, and where Twilio reports on it."""

    number: str
    action: str  #: the <Dial action>: Twilio posts the leg's outcome here
    status_callback: str  #: leg status events (initiated, ringing, answered, completed)
    ring_seconds: int
    time_limit: int
    send_digits: str | None = None


def _xml(response: VoiceResponse) -> str:
    return response.to_xml()


def _say_all(response: VoiceResponse, lines: Sequence[str]) -> None:
    for line in lines:
        response.say(line)


def _dial(response: VoiceResponse, spec: DialSpec) -> None:
    dial = response.dial(action=spec.action, method="POST", timeout=spec.ring_seconds,
                         time_limit=spec.time_limit, answer_on_bridge=True)
    dial.number(spec.number, send_digits=spec.send_digits, status_callback=spec.status_callback,
                status_callback_method="POST", status_callback_event=LEG_EVENTS)


def _dial_samhsa_plain(response: VoiceResponse) -> None:
    # No action: when SAMHSA's conversation ends the call ends. Used only by the static
    # fallback, which must work without the database.
    response.dial(SAMHSA_HELPLINE)


# -- wording --------------------------------------------------------------------------------

def advertiser_disclosure(name: str) -> str:
    return (f"Your call will be answered by {name}, a licensed treatment facility and paid "
            f"advertiser on this site. {PRIVATE}")


def forwarded_disclosure(name: str) -> str:
    return (f"You are being forwarded to a quality treatment center. {advertiser_disclosure(name)}")


def failover_line(previous: str, following: str | None) -> str:
    """``previous`` did not answer; ``following`` is the next advertiser (None: SAMHSA)."""
    if following is None:
        return f"{previous} did not answer. {SAMHSA_CONNECT}"
    return (f"{previous} did not answer. Connecting you to {following}, a licensed treatment "
            f"facility and paid advertiser on this site.")


def nobody_available(forwarded: bool) -> str:
    who = ("No quality treatment center" if forwarded
           else "No treatment center that advertises on this site")
    return f"{who} can take your call right now. {SAMHSA_CONNECT}"


def spaced_digits(digits: str) -> str:
    """``"0100"`` → ``"0 1 0 0"``, so text-to-speech reads digits, not "one hundred"."""
    return " ".join(digits)


# -- documents ------------------------------------------------------------------------------

def connect(lines: Sequence[str], spec: DialSpec) -> str:
    """Say ``lines``, then ring one destination with its outcome and status callbacks."""
    response = VoiceResponse()
    _say_all(response, lines)
    _dial(response, spec)
    return _xml(response)


UNKNOWN_NUMBER = f"This number is not in service at finder. {SAMHSA_CONNECT}"
NO_FACILITY_PHONE = ("We're sorry: we do not have a working phone number for this facility. "
                     f"{SAMHSA_CONNECT}")
CALLBACK_IMPOSSIBLE = ("We're sorry: your number was not shared with us, so a call back is not "
                       f"possible. {SAMHSA_CONNECT}")
NOT_UNDERSTOOD_TWICE = f"{MENU_NOT_UNDERSTOOD} {SAMHSA_CONNECT}"
NO_CHOICE_SAMHSA = f"{NO_CHOICE} {SAMHSA_CONNECT}"


def ask_for_zip(action: str, no_input: str) -> str:
    """The crisis line first, then a 5-digit ZIP; no input goes on to ``no_input`` anyway."""
    response = VoiceResponse()
    response.say(CRISIS)
    gather = response.gather(num_digits=5, action=action, method="POST",
                             timeout=MENU_DIGITS_TIMEOUT)
    gather.say(ZIP_PROMPT)
    response.redirect(no_input, method="POST")
    return _xml(response)


def facility_unanswered_menu(action: str, no_input: str, *, repeat: bool) -> str:
    """The facility did not answer: 1 forwards, 2 asks for a call back.

    No input goes on to ``no_input``, which records the SAMHSA connection like any other leg.
    """
    response = VoiceResponse()
    response.say(MENU_NOT_UNDERSTOOD if repeat else FACILITY_UNANSWERED)
    gather = response.gather(num_digits=1, action=action, method="POST",
                             timeout=MENU_DIGITS_TIMEOUT)
    gather.say(FACILITY_MENU)
    response.redirect(no_input, method="POST")
    return _xml(response)


def callback_confirmed(last_four: str) -> str:
    response = VoiceResponse()
    response.say("Thank you. A quality treatment center will call you back. We will call you "
                 f"back at the number ending in {spaced_digits(last_four)}. {PRIVATE} Goodbye.")
    response.hangup()
    return _xml(response)


def samhsa_unanswered() -> str:
    """The last resort did not pick up: give the caller the number, then end the call."""
    response = VoiceResponse()
    response.say("We're sorry, the SAMHSA National Helpline did not answer. You can call it "
                 "any time, free, at 1 8 0 0, 6 6 2, 4 3 5 7.")
    response.hangup()
    return _xml(response)


def hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return _xml(response)


def _fallback() -> str:
    response = VoiceResponse()
    response.say(f"We're sorry, we could not connect your call. {SAMHSA_CONNECT}")
    _dial_samhsa_plain(response)
    return _xml(response)


#: Built once at import: the answer when anything fails, and Twilio's fallback URL. It reads no
#: data, so it works with the database down.
FALLBACK_TWIML = _fallback()
