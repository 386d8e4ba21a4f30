"""A simulated Twilio for the load run: one thread per call, every call released at once.

Each thread plays one whole call as Twilio drives it, every request signed with
``RequestValidator.compute_signature`` over the full URL and form (``routing_webhooks.sign``):

- ``POST /voice/incoming`` (``CallStatus=ringing``);
- for every ``<Dial>``: an answered leg gets its ``answered`` status callback (the leg's own
  CallSid, ``ParentCallSid``, ``CallStatus=in-progress``), talks a while, then ends with the
  ``<Dial action>`` (``DialCallStatus=completed``) and the leg's ``completed`` status callback;
  an unanswered leg rings a while and ends with both callbacks saying ``no-answer``. The two
  end-of-leg requests race each other (sent at the same moment on two connections) for a share
  of legs, as Twilio may send them; otherwise they come one after the other in random order;
- for the facility menu (``<Gather>``): keypress 2 (a call back), 1 (forwarded to the pool) or
  no input (the ``<Redirect>``, the SAMHSA helpline);
- at the end the call's own status callback (``CallStatus=completed``).

Every form carries the caller's number in ``From`` and ``Caller`` (leg callbacks too: a
``<Dial>`` shows the caller's ID), as Twilio sends it. A share of requests is sent a second time
once answered (Twilio retrying): the answer must be the same. Each thread records what the
caller lived: the numbers dialled, the outcome it must leave in the database, and anything
unexpected (an HTTP error, the static fallback, a changed answer to a retry).
"""

from __future__ import annotations

import http.client
import random
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlencode

from benchmarks.routing_webhooks import ACCOUNT, sign
from finder.calls.routing import SAMHSA_HELPLINE
from finder.calls.twiml import FALLBACK_TWIML

REQUEST_TIMEOUT = 60
#: A call dialling more legs than this is looping: stop it and report.
MAX_LEGS = 8
ENDPOINTS = ("incoming", "dial-result", "gather", "status (leg)", "status (call)")


@dataclass(frozen=True)
class Plan:
    call_sid: str
    kind: str  #: helpline, facility or unknown (the number dialled)
    to: str
    caller: str | None  #: E.164; None: withheld
    seed: int


@dataclass(frozen=True)
class Behaviour:
    """How destinations and callers behave (shares are probabilities)."""

    no_answer: float = 0.25  #: an advertiser's leg does not answer (the call fails over)
    facility_answers: float = 0.3  #: a facility picks up; otherwise its menu is played
    menu: tuple[tuple[str, float], ...] = (("2", 0.5), ("1", 0.3), ("", 0.2))
    talk_ms: float = 1000  #: mean length of an answered leg (exponential)
    ring_ms: float = 300  #: mean ringing before no-answer
    race: float = 0.5  #: share of legs whose two end-of-leg requests are sent at once
    retry: float = 0.03  #: share of requests Twilio sends twice


@dataclass
class Played:
    """What one caller lived through."""

    call_sid: str
    kind: str
    caller: str | None
    destinations: list[str] = field(default_factory=list)
    #: The ``Call.outcome`` the database must show (None: not known).
    outcome: str | None = None
    callback: bool = False  #: asked for a call back with a number
    problems: list[str] = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)
    retries: int = 0
    finished_at: float | None = None


class TimeUp(Exception):
    """The run's time limit passed: the call stops where it is."""


class Connection:
    """One kept-alive HTTP/1.1 connection to the server, reopened when the server closed it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def request(self, path: str, body: str, headers: dict) -> tuple[int, str]:
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                       timeout=REQUEST_TIMEOUT)
            try:
                self.conn.request("POST", path, body, headers)
                response = self.conn.getresponse()
                return response.status, response.read().decode()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server closed meanwhile (Twilio retries too).
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class TwilioCall:
    """Plays one call against the server on ``port``."""

    def __init__(self, port: int, token: str, plan: Plan, behaviour: Behaviour,
                 kinds: dict[str, str], deadline: float) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self.token = token
        self.plan = plan
        self.behaviour = behaviour
        self.kinds = kinds
        self.deadline = deadline
        self.rng = random.Random(plan.seed)
        self.main = Connection(port)
        self.side = Connection(port)  # the request racing the main one
        self.record = Played(plan.call_sid, plan.kind, plan.caller)
        shown = plan.caller or "Anonymous"
        self.form = {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "CallSid": plan.call_sid,
                     "From": shown, "Caller": shown, "To": plan.to, "Called": plan.to,
                     "Direction": "inbound", "FromCountry": "US"}

    # -- requests ---------------------------------------------------------------------------

    def post(self, endpoint: str, url: str, params: dict, *, side: bool = False,
             expect: int = 200) -> tuple[int, str]:
        if time.monotonic() > self.deadline:
            raise TimeUp
        full = url if url.startswith("http") else self.base_url + url
        path = full[len(self.base_url):]
        headers = sign(full, params, self.token)
        body = urlencode(params)
        conn = self.side if side else self.main
        started = time.perf_counter()
        status, text = conn.request(path, body, headers)
        self.record.timings.append((endpoint, (time.perf_counter() - started) * 1000))
        if status != expect:
            self.record.problems.append(f"{endpoint}: HTTP {status} {text[:120]!r}")
        elif text == FALLBACK_TWIML:
            self.record.problems.append(f"{endpoint}: answered the static fallback (a step "
                                        f"failed on the server)")
        if self.rng.random() < self.behaviour.retry:
            started = time.perf_counter()
            again = conn.request(path, body, headers)
            self.record.timings.append(("retry", (time.perf_counter() - started) * 1000))
            self.record.retries += 1
            if again != (status, text):
                self.record.problems.append(f"{endpoint}: a retry got another answer "
                                            f"({again[0]} {again[1][:80]!r})")
        return status, text

    def twiml(self, endpoint: str, url: str, params: dict) -> ET.Element | None:
        status, text = self.post(endpoint, url, params)
        if status != 200 or text == FALLBACK_TWIML:
            return None
        try:
            return ET.fromstring(text)
        except ET.ParseError:
            self.record.problems.append(f"{endpoint}: not XML: {text[:120]!r}")
            return None

    def pause(self, mean_ms: float) -> None:
        if mean_ms > 0:
            seconds = self.rng.expovariate(1000 / mean_ms)
            time.sleep(max(0.0, min(seconds, self.deadline - time.monotonic())))

    # -- the call ---------------------------------------------------------------------------

    def play(self) -> Played:
        try:
            self._play()
        except TimeUp:
            self.record.problems.append("the time limit passed before the call ended")
        except Exception as exc:  # noqa: BLE001 - reported with the call, the run goes on
            self.record.problems.append(f"client error: {exc!r}")
        finally:
            self.main.close()
            self.side.close()
            self.record.finished_at = time.perf_counter()
        return self.record

    def _play(self) -> None:
        root = self.twiml("incoming", "/voice/incoming", {**self.form, "CallStatus": "ringing"})
        while root is not None:
            if len(self.record.destinations) >= MAX_LEGS:
                self.record.problems.append(f"more than {MAX_LEGS} legs: stopped")
                break
            dial, gather = root.find("Dial"), root.find("Gather")
            if dial is not None:
                root = self.leg(dial)
            elif gather is not None:
                root = self.menu(root, gather)
            else:
                if root.find("Hangup") is None:
                    self.record.problems.append(f"neither Dial, Gather nor Hangup: "
                                                f"{ET.tostring(root)[:160]!r}")
                break
        self.post("status (call)", "/voice/status",
                  {**self.form, "CallStatus": "completed",
                   "CallDuration": str(self.rng.randrange(20, 400))}, expect=204)

    def leg(self, dial: ET.Element) -> ET.Element | None:
        number_element = dial.find("Number")
        action = dial.get("action")
        if number_element is None or not action or not number_element.get("statusCallback"):
            self.record.problems.append("a Dial without its Number, action or status callback")
            return None
        number = (number_element.text or "").strip()
        self.record.destinations.append(number)
        kind = self.kinds.get(number, "unknown")
        if kind == "advertiser":
            answered = self.rng.random() >= self.behaviour.no_answer
        elif kind == "facility":
            answered = self.rng.random() < self.behaviour.facility_answers
        else:
            answered = True  # the SAMHSA helpline always picks up here
        leg_sid = f"{self.plan.call_sid[:30]}L{len(self.record.destinations):03d}"
        leg_form = {**self.form, "CallSid": leg_sid, "ParentCallSid": self.plan.call_sid,
                    "To": number, "Called": number, "Direction": "outbound-dial"}
        status_url = number_element.get("statusCallback")
        if answered:
            self.post("status (leg)", status_url, {**leg_form, "CallStatus": "in-progress"},
                      expect=204)
            self.pause(self.behaviour.talk_ms)
            seconds = str(self.rng.randrange(30, 600))
            self.record.outcome = f"connected_{kind}"
            ending = ({**self.form, "CallStatus": "in-progress", "DialCallSid": leg_sid,
                       "DialCallStatus": "completed", "DialCallDuration": seconds},
                      {**leg_form, "CallStatus": "completed", "CallDuration": seconds})
        else:
            self.pause(self.behaviour.ring_ms)
            ending = ({**self.form, "CallStatus": "in-progress", "DialCallSid": leg_sid,
                       "DialCallStatus": "no-answer", "DialCallDuration": "0"},
                      {**leg_form, "CallStatus": "no-answer", "CallDuration": "0"})
        return self.end_leg(action, ending[0], status_url, ending[1])

    def end_leg(self, action: str, action_form: dict, status_url: str,
                status_form: dict) -> ET.Element | None:
        """The ``<Dial action>`` and the leg's final status callback: at once, or in turn."""
        def leg_status(side: bool) -> None:
            self.post("status (leg)", status_url, status_form, side=side, expect=204)

        if self.rng.random() < self.behaviour.race:
            failure: list[BaseException] = []

            def racing() -> None:
                try:
                    leg_status(side=True)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller thread
                    failure.append(exc)

            other = threading.Thread(target=racing, daemon=True)
            other.start()
            root = self.twiml("dial-result", action, action_form)
            other.join(REQUEST_TIMEOUT * 2 + 5)
            if failure:
                raise failure[0]
            return root
        if self.rng.random() < 0.5:
            leg_status(side=False)
            return self.twiml("dial-result", action, action_form)
        root = self.twiml("dial-result", action, action_form)
        leg_status(side=False)
        return root

    def menu(self, root: ET.Element, gather: ET.Element) -> ET.Element | None:
        """The facility did not answer: press 2, press 1, or let the menu time out."""
        roll, choice = self.rng.random(), ""
        for digits, share in self.behaviour.menu:
            if roll < share:
                choice = digits
                break
            roll -= share
        if choice:
            url, form = gather.get("action"), {**self.form, "CallStatus": "in-progress",
                                               "Digits": choice}
        else:
            redirect = root.find("Redirect")
            url = (redirect.text or "").strip() if redirect is not None else ""
            form = {**self.form, "CallStatus": "in-progress"}
        if not url:
            self.record.problems.append("a menu without its action or redirect")
            return None
        answer = self.twiml("gather", url, form)
        if choice == "2" and self.plan.caller:
            self.record.outcome, self.record.callback = "callback_requested", True
        return answer


def play_all(port: int, token: str, plans: list[Plan], behaviour: Behaviour,
             kinds: dict[str, str], time_limit: float) -> tuple[list[Played], float]:
    """One thread per call, all released together by a barrier; returns what each caller lived
    and the seconds from the release to the end of the last call."""
    deadline = time.monotonic() + time_limit
    barrier = threading.Barrier(len(plans) + 1)
    played: list[Played | None] = [None] * len(plans)

    def work(index: int) -> None:
        call = TwilioCall(port, token, plans[index], behaviour, kinds, deadline)
        try:
            barrier.wait(timeout=60)
        except threading.BrokenBarrierError:
            call.record.problems.append("never released (the barrier broke)")
            played[index] = call.record
            return
        played[index] = call.play()

    threads = [threading.Thread(target=work, args=(n,), daemon=True, name=f"caller-{n}")
               for n in range(len(plans))]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=60)
    released = time.perf_counter()
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0) + 2 * REQUEST_TIMEOUT + 10)
    records = []
    for plan, record in zip(plans, played, strict=True):
        if record is None:
            record = Played(plan.call_sid, plan.kind, plan.caller,
                            problems=["the caller thread never returned"])
        records.append(record)
    ends = [r.finished_at for r in records if r.finished_at is not None]
    return records, (max(ends) - released) if ends else 0.0


def number_kinds(advertiser_phones, facility_phones) -> dict[str, str]:
    """What each number a ``<Dial>`` may ring is: advertiser, facility or samhsa."""
    kinds = {SAMHSA_HELPLINE: "samhsa"}
    kinds.update({phone: "advertiser" for phone in advertiser_phones})
    kinds.update({phone: "facility" for phone in facility_phones if phone})
    return kinds
