"""A hand-computed call scenario for the operators' dashboard tests, played as Twilio would.

Every call goes through the real voice webhooks (signed posts), so calls, legs, counters,
audit rows and the "answered" status callbacks are what production records. All numbers are
fictional (555-01XX); callers use area codes the factories never use (214 TX, 405 OK, 804 VA).

Pool "Scenario pool": Alpha (tier 1, weight 3, TX, daily cap 5), Bravo (tier 1, weight 1, OK,
daily cap 2), Charlie (tier 2, weight 2, TX, no cap). One facility number. All times UTC;
Chicago is UTC-6 in November, so the advertisers' local days are the UTC days.

    #   when (UTC)        caller  number    legs (ring s, talk s)                  outcome
    1   11-20 15:00       TX 0141 helpline  Alpha answered (8, 30)                 connected
    2   11-20 15:10       TX 0142 helpline  Alpha answered (12, 90)                connected
    3   11-20 15:20       TX 0143 helpline  Alpha rang 25 s, caller hung up        caller_hung_up
    4   11-20 16:00       OK 0151 helpline  Bravo answered (5, 120)                connected
    5   11-20 16:10       OK 0152 helpline  Bravo answered (7, 30)  [Bravo at cap] connected
    6   11-21 15:00       TX 0144 helpline  Alpha answered (10, 45)                connected
    7   11-21 15:10       TX 0145 helpline  Alpha no answer (20); Charlie (6, 200) connected
    8   11-21 15:30       TX 0146 helpline  Alpha answered (4, 60)                 connected
    9   11-21 16:00       OK 0153 helpline  Bravo no answer (20); SAMHSA (30, 300) connected
    10  11-21 16:30       OK 0154 helpline  Bravo answered (9, 75)                 connected
    11  11-20 17:00       VA 0161 facility  facility answered (3, 40)              connected
    12  11-21 17:00       VA 0162 facility  facility no answer (20), menu, hang up unanswered
    0   09-01 15:00       TX 0140 helpline  Alpha answered (5, 100)  (outside the period)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from finder.extensions import db
from tests.factories import make_advertiser, make_facility, make_pool, make_tracking_number
from tests.voice_helpers import call_params, dials, new_call_sid, post, twiml

HELPLINE = "+18885550101"
SEPTEMBER = datetime(2026, 9, 1, 15, 0, tzinfo=UTC)
DAY1 = datetime(2026, 11, 20, tzinfo=UTC)
DAY2 = datetime(2026, 11, 21, tzinfo=UTC)
#: The dashboard's clock once the scenario has been played.
AFTER = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Leg:
    result: str  #: answered, no-answer, or hangup (the caller hangs up while it rings)
    ring: int = 5
    talk: int = 0


@dataclass
class Scenario:
    pool_id: int
    alpha: int
    bravo: int
    charlie: int
    facility_id: int
    helpline_id: int
    facility_number: str
    facility_number_id: int
    callers: list[str] = field(default_factory=list)
    sids: dict[int, str] = field(default_factory=dict)  #: scenario call number -> CallSid


class Clock:
    def __init__(self, app, start: datetime):
        self.now = start
        app.config["CLOCK"] = lambda: self.now


def place_call(client, clock: Clock, to: str, caller: str, at: datetime,
               legs: list[Leg]) -> str:
    """Play one call: the incoming webhook, each leg's callbacks, then the call's end."""
    sid = new_call_sid()
    clock.now = at
    root = twiml(post(client, "/voice/incoming", call_params(sid, to, from_=caller)))
    for leg in legs:
        dial = dials(root)[0]
        action = dial.get("action")
        status_url = dial.find("Number").get("statusCallback")
        clock.now += timedelta(seconds=leg.ring)
        if leg.result == "answered":
            answered = post(client, status_url, {"CallSid": new_call_sid(), "ParentCallSid": sid,
                                                 "CallStatus": "in-progress"})
            assert answered.status_code == 204
            clock.now += timedelta(seconds=leg.talk)
            params = {"DialCallStatus": "completed", "DialCallDuration": str(leg.talk),
                      "CallStatus": "in-progress"}
        else:
            params = {"DialCallStatus": "no-answer", "DialCallDuration": "0",
                      "CallStatus": "completed" if leg.result == "hangup" else "in-progress"}
        root = twiml(post(client, action, {"CallSid": sid, **params}))
    clock.now += timedelta(seconds=2)
    total = int((clock.now - at).total_seconds())
    ended = post(client, "/voice/status", {"CallSid": sid, "CallStatus": "completed",
                                           "CallDuration": str(total)})
    assert ended.status_code == 204
    return sid


def _at(day: datetime, hour: int, minute: int) -> datetime:
    return day.replace(hour=hour, minute=minute)


#: (scenario number, when, caller, helpline?, legs)
CALLS = [
    (0, SEPTEMBER, "+12145550140", True, [Leg("answered", 5, 100)]),
    (1, _at(DAY1, 15, 0), "+12145550141", True, [Leg("answered", 8, 30)]),
    (2, _at(DAY1, 15, 10), "+12145550142", True, [Leg("answered", 12, 90)]),
    (3, _at(DAY1, 15, 20), "+12145550143", True, [Leg("hangup", 25)]),
    (4, _at(DAY1, 16, 0), "+14055550151", True, [Leg("answered", 5, 120)]),
    (5, _at(DAY1, 16, 10), "+14055550152", True, [Leg("answered", 7, 30)]),
    (11, _at(DAY1, 17, 0), "+18045550161", False, [Leg("answered", 3, 40)]),
    (6, _at(DAY2, 15, 0), "+12145550144", True, [Leg("answered", 10, 45)]),
    (7, _at(DAY2, 15, 10), "+12145550145", True, [Leg("no-answer", 20),
                                                   Leg("answered", 6, 200)]),
    (8, _at(DAY2, 15, 30), "+12145550146", True, [Leg("answered", 4, 60)]),
    (9, _at(DAY2, 16, 0), "+14055550153", True, [Leg("no-answer", 20),
                                                  Leg("answered", 30, 300)]),
    (10, _at(DAY2, 16, 30), "+14055550154", True, [Leg("answered", 9, 75)]),
    (12, _at(DAY2, 17, 0), "+18045550162", False, [Leg("no-answer", 20)]),
]


def build_scenario(app) -> Scenario:
    with app.app_context():
        session = db.session
        pool = make_pool(session, name="Scenario pool")
        alpha = make_advertiser(session, pool, name="Alpha Recovery (fictional)", weight=3,
                                daily_cap=5, states_served=["TX"])
        bravo = make_advertiser(session, pool, name="Bravo Treatment (fictional)", weight=1,
                                daily_cap=2, states_served=["OK"])
        charlie = make_advertiser(session, pool, name="Charlie Care (fictional)", tier=2,
                                  weight=2, states_served=["TX"])
        facility = make_facility(session, name1="Delta Facility (fictional)")
        facility_number = make_tracking_number(session, facility=facility)
        helpline = make_tracking_number(session, pool=pool, number=HELPLINE)
        session.commit()
        scenario = Scenario(pool.id, alpha.id, bravo.id, charlie.id, facility.id, helpline.id,
                            facility_number.number, facility_number.id)
    client = app.test_client()
    clock = Clock(app, SEPTEMBER)
    for number, at, caller, to_helpline, legs in CALLS:
        to = HELPLINE if to_helpline else scenario.facility_number
        scenario.sids[number] = place_call(client, clock, to, caller, at, legs)
        scenario.callers.append(caller)
    clock.now = AFTER
    return scenario
