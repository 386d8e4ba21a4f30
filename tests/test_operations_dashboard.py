"""The operators' dashboard: call log, CSV, call detail, integrity and what-if, on both backends.

The calls come from the scenario in tests/operations_scenario.py, played through the signed
voice webhooks.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from finder.accounts.models import Role
from finder.calls import audit
from finder.calls.models import AuditEntry, Call
from finder.calls.routing import open_call
from finder.extensions import db
from finder.operations.exports import COLUMNS
from tests.factories import make_advertiser, make_pool, make_tracking_number, make_zip
from tests.operations_scenario import HELPLINE, build_scenario
from tests.staff_helpers import logged_in_client
from tests.voice_helpers import count_rows

LOG = "/staff/calls/"
CSV = "/staff/calls/export.csv"
PAGES = ("/staff/calls/", "/staff/calls/export.csv", "/staff/calls/reports",
         "/staff/calls/integrity", "/staff/calls/what-if")


@pytest.fixture
def scenario(app):
    return build_scenario(app)


@pytest.fixture
def operator(app, scenario):
    client, _ = logged_in_client(app, Role.OPERATOR)
    return client


@pytest.fixture
def quiet(app):
    """No calls at all: one pool with one advertiser, its helpline number and an operator."""
    with app.app_context():
        pool = make_pool(db.session)
        make_advertiser(db.session, pool)
        make_tracking_number(db.session, pool=pool, number=HELPLINE)
        db.session.commit()
    client, _ = logged_in_client(app, Role.OPERATOR)
    return client


def call_ids(app, scenario) -> dict[int, int]:
    """Scenario call number -> Call.id."""
    with app.app_context():
        by_sid = dict(db.session.execute(sa.select(Call.call_sid, Call.id)).all())
    return {number: by_sid[sid] for number, sid in scenario.sids.items()}


def listed(response) -> set[int]:
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    return {int(i) for i in re.findall(r'href="/staff/calls/(\d+)"', response.get_data(
        as_text=True))}


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    reader = csv.reader(io.StringIO(response.get_data(as_text=True)))
    header = next(reader)
    assert tuple(header) == COLUMNS
    return [dict(zip(header, row, strict=True)) for row in reader]


# -- access ---------------------------------------------------------------------------------

def test_anonymous_visitors_are_sent_to_log_in(app):
    client = app.test_client()
    for path in (*PAGES, "/staff/calls/1", "/staff/calls/what-if?number=%2B18885550101"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login"), path


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ADMIN])
def test_operators_and_admins_see_every_page_and_the_menu_links(app, role):
    client, _ = logged_in_client(app, role)
    for path in PAGES:
        assert client.get(path).status_code == 200, path
    home = client.get("/staff/").get_data(as_text=True)
    for path, label in (("/staff/calls/", "Calls"), ("/staff/calls/reports", "Call reports"),
                        ("/staff/calls/integrity", "Audit integrity"),
                        ("/staff/calls/what-if", "What-if")):
        assert f'<a href="{path}">{label}</a>' in home


def test_a_missing_call_is_404(app, quiet):
    assert quiet.get("/staff/calls/999999").status_code == 404


# -- the call log ---------------------------------------------------------------------------

def test_the_log_filters_narrow_the_calls(app, operator, scenario):
    ids = call_ids(app, scenario)

    def calls(*numbers):
        return {ids[n] for n in numbers}

    everything = set(ids)
    cases = {
        "": everything,
        "since=2026-11-20&until=2026-11-20": {1, 2, 3, 4, 5, 11},
        "since=2026-11-21": {6, 7, 8, 9, 10, 12},
        "until=2026-10-01": {0},
        f"number={scenario.helpline_id}": everything - {11, 12},
        f"number={scenario.facility_number_id}&since=2026-11-21": {12},
        "kind=facility": {11, 12},
        "kind=helpline&since=2026-11-20": everything - {0, 11, 12},
        "kind=unknown": set(),
        "destination=samhsa": {9},
        "destination=facility": {11, 12},
        "destination=advertiser&state=OK": {4, 5, 9, 10},
        f"destination=advertiser:{scenario.charlie}": {7},
        f"destination=advertiser:{scenario.alpha}&since=2026-11-21": {6, 7, 8},
        "outcome=caller_hung_up": {3},
        "outcome=connected_samhsa": {9},
        "outcome=facility_unanswered": {12},
        "state=OK": {4, 5, 9, 10},
        "state=VA": {11, 12},
        "state=TX&since=2026-11-20&until=2026-11-20": {1, 2, 3},
        "state=unknown": set(),
    }
    for query, expected in cases.items():
        response = operator.get(f"{LOG}?{query}")
        assert listed(response) == calls(*expected), query
        assert f"{len(expected)} call" in response.get_data(as_text=True), query


def test_the_log_shows_each_call_in_one_row(app, operator, scenario):
    ids = call_ids(app, scenario)
    html = operator.get(f"{LOG}?outcome=connected_samhsa").get_data(as_text=True)
    row = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))
    assert f'href="/staff/calls/{ids[9]}"' in row
    for part in ("2026-11-21 16:00:00", "(888) 555-0101", "helpline", "•••• 0153", "OK",
                 "area_code", "SAMHSA National Helpline", "connected samhsa"):
        assert part in text, part


@pytest.mark.parametrize("query", [
    "since=not-a-date", "until=2026-02-30", "since=2026-11-21&until=2026-11-20",
    "number=999999", "number=abc", "kind=mobile", "destination=elsewhere",
    "destination=advertiser:abc", "destination=advertiser:999999", "outcome=exploded",
    "state=ZZ", "state=tx", "since=0001-01-01", "until=9999-12-31",
])
def test_invalid_filters_are_form_errors_not_failures(app, quiet, query):
    for path in (LOG, CSV):
        response = quiet.get(f"{path}?{query}")
        assert response.status_code == 400, (path, query)
        html = response.get_data(as_text=True)
        assert "Please correct the filters above." in html
        assert 'class="field-error"' in html


def test_the_log_is_paginated_by_50(app, operator, scenario):
    with app.app_context():
        for n in range(55):
            open_call(db.session, call_sid=f"CApage{n:04d}", to_number=HELPLINE,
                      from_number=None, twilio_from_state=None, hash_key=b"k",
                      now=datetime(2026, 11, 19, 12, tzinfo=UTC) + timedelta(minutes=n))
        db.session.commit()
    first = listed(operator.get(f"{LOG}?since=2026-11-19&until=2026-11-19"))
    second = listed(operator.get(f"{LOG}?since=2026-11-19&until=2026-11-19&page=2"))
    assert (len(first), len(second)) == (50, 5)
    assert not first & second
    # Past the end shows the last page; nonsense shows the first.
    assert listed(operator.get(f"{LOG}?since=2026-11-19&until=2026-11-19&page=99")) == second
    assert listed(operator.get(f"{LOG}?since=2026-11-19&until=2026-11-19&page=x")) == first
    html = operator.get(f"{LOG}?since=2026-11-19&until=2026-11-19").get_data(as_text=True)
    assert "page=2" in html and "until=2026-11-19" in html
    # Withheld numbers are shown as such.
    assert "withheld" in html


# -- the CSV --------------------------------------------------------------------------------

def test_the_csv_holds_the_filtered_calls(app, operator, scenario):
    rows = csv_rows(operator.get(f"{CSV}?state=OK"))
    assert [row["started_at_utc"] for row in rows] == [
        "2026-11-21T16:30:00Z", "2026-11-21T16:00:00Z", "2026-11-20T16:10:00Z",
        "2026-11-20T16:00:00Z"]
    # Call 9: Bravo did not answer, the SAMHSA helpline did (30 s ring, 300 s talk).
    assert rows[1] == {
        "started_at_utc": "2026-11-21T16:00:00Z", "number": HELPLINE, "kind": "helpline",
        "caller_last_four": "•••• 0153", "caller_state": "OK", "state_signal": "area_code",
        "attempts": "2", "final_destination": "samhsa: SAMHSA National Helpline",
        "outcome": "connected_samhsa", "duration_seconds": "352",
    }
    assert rows[0]["final_destination"] == "advertiser: Bravo Treatment (fictional)"
    facility = csv_rows(operator.get(f"{CSV}?kind=facility"))
    assert [(r["number"], r["final_destination"], r["outcome"]) for r in facility] == [
        (scenario.facility_number, "facility: Delta Facility (fictional)",
         "facility_unanswered"),
        (scenario.facility_number, "facility: Delta Facility (fictional)",
         "connected_facility")]
    assert len(csv_rows(operator.get(CSV))) == len(scenario.sids)
    assert csv_rows(operator.get(f"{CSV}?state=unknown")) == []
    response = operator.get(f"{CSV}?state=OK")
    assert response.headers["Content-Disposition"].startswith("attachment; filename=calls-")


def test_a_caller_is_never_shown_beyond_the_last_four_digits(app, operator, scenario):
    ids = call_ids(app, scenario)
    pages = [operator.get(path).get_data(as_text=True) for path in PAGES]
    pages += [operator.get(f"/staff/calls/{i}").get_data(as_text=True) for i in ids.values()]
    pages.append(operator.get("/staff/calls/what-if?number=%2B18885550101&state=TX")
                 .get_data(as_text=True))
    shown = "\n".join(pages)
    for caller in scenario.callers:
        area, exchange, line = caller[2:5], caller[5:8], caller[8:]
        # Any spelling of the number: 2145550141, (214) 555-0141, 214.555.0141, +1 214 ...
        pattern = re.compile(rf"{area}\D{{0,3}}{exchange}\D{{0,3}}{line}")
        assert not pattern.search(shown), caller
        assert f"•••• {line}" in shown, caller


# -- one call -------------------------------------------------------------------------------

def test_the_detail_shows_every_leg_with_its_candidates_and_reasons(app, operator, scenario):
    ids = call_ids(app, scenario)
    html = operator.get(f"/staff/calls/{ids[7]}").get_data(as_text=True)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    with app.app_context():
        rows = audit.rows_for_call(db.session, ids[7])
        config_hash = [e for e in rows if e.kind == "decision"][0].payload
    config_hash = re.search(r'"pool_config_hash":"([0-9a-f]{64})"', config_hash).group(1)
    assert "Leg 1: Alpha Recovery (fictional) (advertiser)" in text
    assert "Leg 2: Charlie Care (fictional) (advertiser)" in text
    assert text.count("tier_weight") == 2
    assert "lowest calls-today-to-weight ratio" in text
    assert config_hash in text
    assert "•••• 0145" in text
    # Leg 1: Alpha chosen over Charlie (a lower tier); Bravo does not serve Texas callers.
    # Leg 2: Alpha was already tried; Charlie is chosen.
    assert text.count("state_not_served") == 2
    assert "already_tried" in text and "already rung on this call" in text
    assert text.count("chosen") >= 2
    assert "Time to answer 6 s" in text and "Talk time 200 s" in text
    assert "Twilio said no-answer; not bridged" in text
    assert "Twilio said completed; bridged, 200 s" in text
    assert f"Intact: all {len(rows)} audit rows of this call" in text

    samhsa = operator.get(f"/staff/calls/{ids[9]}").get_data(as_text=True)
    assert "none_eligible" in samhsa and "SAMHSA National Helpline (samhsa)" in samhsa
    facility = operator.get(f"/staff/calls/{ids[11]}").get_data(as_text=True)
    assert "facility_number" in facility and "Delta Facility (fictional)" in facility


# -- integrity ------------------------------------------------------------------------------

def test_the_integrity_page_says_intact_then_names_the_tampered_row(app, operator, scenario):
    ids = call_ids(app, scenario)
    with app.app_context():
        total = db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry)).scalar()
        target = next(e.id for e in audit.rows_for_call(db.session, ids[5])
                      if e.kind == "decision")
    html = operator.get("/staff/calls/integrity").get_data(as_text=True)
    assert f"The audit chain is intact: {total} rows checked." in html

    with app.app_context():
        db.session.execute(
            sa.text("UPDATE routing_audit SET payload = replace(payload, 'Bravo', 'Zulu') "
                    "WHERE id = :id"), {"id": target})
        db.session.commit()
    html = operator.get("/staff/calls/integrity").get_data(as_text=True)
    assert "The audit chain is intact" not in html
    assert (f"BROKEN at row {target}: row {target} was altered after it was written."
            in html)
    detail = operator.get(f"/staff/calls/{ids[5]}").get_data(as_text=True)
    assert f"BROKEN: row {target} was altered after it was written" in detail
    assert operator.get(f"/staff/calls/{ids[4]}").get_data(as_text=True).count(
        "Intact: all") == 1


def test_a_removed_row_breaks_the_chain_of_the_call_after_it(app, operator, scenario):
    ids = call_ids(app, scenario)
    with app.app_context():
        first = audit.rows_for_call(db.session, ids[6])[0].id
        db.session.execute(sa.text("DELETE FROM routing_audit WHERE id = :id"),
                           {"id": first - 1})
        db.session.commit()
    html = operator.get("/staff/calls/integrity").get_data(as_text=True)
    assert f"BROKEN at row {first - 1}: row {first - 1} is missing" in html
    detail = operator.get(f"/staff/calls/{ids[6]}").get_data(as_text=True)
    assert f"row {first - 1}, the row before row {first}, is missing" in detail


# -- what-if --------------------------------------------------------------------------------

WHAT_IF = "/staff/calls/what-if"


def test_the_what_if_decides_without_writing_anything(app, operator, scenario):
    with app.app_context():
        make_zip(db.session, "73102", "OK", city="Oklahoma City")
        db.session.commit()
    before = count_rows(app)
    response = operator.get(f"{WHAT_IF}?number=%2B18885550101&state=TX"
                            "&at=2026-11-21T10:00&zone=America/Chicago")
    assert response.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))
    assert "Alpha Recovery (fictional) answers" in text
    assert "2026-11-21T10:00:00-06:00" in text
    # Alpha has taken 2 calls today (weight 3); Bravo does not serve Texas.
    assert "2/3" in text and "state_not_served" in text and "tier_weight" in text
    assert "Nothing was recorded" in text

    by_zip = operator.get(f"{WHAT_IF}?number=%2B18885550101&state=TX&zip=73102")
    assert by_zip.status_code == 200
    assert "Bravo Treatment (fictional) answers" in by_zip.get_data(as_text=True)
    nobody = operator.get(f"{WHAT_IF}?number=%2B18885550101")
    assert "The SAMHSA National Helpline answers" in nobody.get_data(as_text=True)
    assert "caller_state_unknown" in nobody.get_data(as_text=True)
    facility = operator.get(f"{WHAT_IF}?number={scenario.facility_number.replace('+', '%2B')}")
    assert "It rings Delta Facility (fictional)" in facility.get_data(as_text=True)
    assert count_rows(app) == before


def test_the_what_if_defaults_to_now(app, operator, scenario):
    html = operator.get(f"{WHAT_IF}?number=%2B18885550101&state=OK&zone=America/Chicago"
                        ).get_data(as_text=True)
    assert "2026-11-21T17:00:00-06:00" in html  # the clock: 23:00 UTC


@pytest.mark.parametrize("query, message", [
    ("number=%2B15555550100", "Not a valid choice"),
    ("number=%2B18885550101&zip=7310", "Enter a 5-digit ZIP code."),
    ("number=%2B18885550101&zip=99999", "is not a known 5-digit ZIP code"),
    ("number=%2B18885550101&zone=Mars/Olympus", "Enter an IANA time zone"),
    ("number=%2B18885550101&zone=../../etc/passwd", "Enter an IANA time zone"),
    ("number=%2B18885550101&at=tomorrow", "Not a valid datetime value"),
    ("number=%2B18885550101&state=ZZ", "Not a valid choice"),
    ("number=%2B18885550101&at=0001-01-01T00:00&zone=Asia/Tokyo", "Enter a date between"),
])
def test_bad_what_if_input_is_a_form_error(app, quiet, query, message):
    before = count_rows(app)
    response = quiet.get(f"{WHAT_IF}?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count_rows(app) == before
