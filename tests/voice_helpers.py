"""Helpers for voice webhook tests: signed posts as Twilio sends them, TwiML parsing, a small pool.

Every number here is fictional (555-01XX).
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from finder.calls.models import Call
from finder.extensions import db
from tests.factories import make_advertiser, make_facility, make_pool, make_tracking_number

#: A Saturday, noon in Austin: every test advertiser is open.
NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
#: A caller from a Dallas area code (TX), fictional; no factory makes 214 numbers.
CALLER = "+12145550142"
CALLER_DIGITS = CALLER[1:]
SAMHSA = "+18006624357"
BASE = "http://localhost"
_sids = itertools.count(1)


def new_call_sid() -> str:
    return f"CA{next(_sids):032x}"


def signature(app, url: str, params: dict) -> str:
    return RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)


def post(client, path: str, params: dict, *, base: str = BASE, sign: bool = True,
         headers: dict | None = None):
    """POST ``params`` to ``path`` as Twilio would, signed for ``base + path``."""
    headers = dict(headers or {})
    if sign:
        headers["X-Twilio-Signature"] = signature(client.application, base + path, params)
    return client.post(path, data=params, headers=headers)


def call_params(call_sid: str, to: str, *, from_: str | None = CALLER, **extra) -> dict:
    params = {"CallSid": call_sid, "AccountSid": "AC" + "0" * 32, "To": to,
              "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}
    if from_ is not None:
        params["From"] = from_
    params.update(extra)
    return params


def twiml(response) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype in {"text/xml", "application/xml"}
    root = ET.fromstring(response.get_data())
    assert root.tag == "Response"
    return root


def says(root: ET.Element) -> list[str]:
    return [" ".join(el.itertext()) for el in root.iter("Say")]


def spoken(root: ET.Element) -> str:
    return " ".join(says(root))


def dials(root: ET.Element) -> list[ET.Element]:
    return root.findall("Dial")


def dialed_number(dial: ET.Element) -> str:
    number = dial.find("Number")
    return (number.text if number is not None else dial.text or "").strip()


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


def query_value(url: str, name: str) -> str:
    return parse_qs(urlparse(url).query)[name][0]


@dataclass
class Pool:
    """Ids of a small fictional setup: one facility number, one helpline pool."""

    facility_id: int
    facility_phone: str
    facility_number: str
    pool_id: int
    helpline_number: str
    advertiser_ids: list[int]
    advertiser_phones: list[str]
    advertiser_names: list[str]


def build_pool(app, *, advertisers: int = 2, ask_for_zip: bool = False, max_attempts: int = 3,
               states: tuple[str, ...] = ("TX",), facility_phone: str | None = "+14345550123",
               **advertiser_fields) -> Pool:
    with app.app_context():
        session = db.session
        facility = make_facility(session, phone=facility_phone)
        facility_number = make_tracking_number(session, facility=facility)
        pool = make_pool(session, ask_for_zip=ask_for_zip, max_attempts=max_attempts)
        helpline = make_tracking_number(session, pool=pool, number="+18885550101")
        made = [make_advertiser(session, pool, states_served=list(states), **advertiser_fields)
                for _ in range(advertisers)]
        session.commit()
        return Pool(facility.id, facility_phone, facility_number.number, pool.id,
                    helpline.number, [a.id for a in made], [a.phone for a in made],
                    [a.name for a in made])


def count_rows(app) -> dict[str, int]:
    """Rows in every table, to prove a refused request changed nothing."""
    with app.app_context():
        return {
            table.name: db.session.execute(sa.select(sa.func.count()).select_from(table))
            .scalar_one()
            for table in db.metadata.sorted_tables
        }


def get_call(call_sid: str) -> Call:
    return db.session.execute(sa.select(Call).where(Call.call_sid == call_sid)).scalar_one()

