"""Operators' reports: every figure checked against the hand-computed scenario, on both backends.

The scenario (tests/operations_scenario.py) is played through the signed voice webhooks. By hand,
for 2026-11-20..21 (the September call falls outside):

- Alpha (tier 1, weight 3, cap 5): routed 6 (calls 1, 2, 3, 6, 7, 8), answered 4 (1, 2, 6, 8),
  answer rate 4/6; answered after 8, 12, 10 and 4 s: median 9 s; abandoned 1 (call 3);
  billable (>= 60 s talk): 90 and 60 -> 2; counted against the cap 2 + 2 = 4 of 5 x 2 days.
- Bravo (tier 1, weight 1, cap 2): routed 4 (4, 5, 9, 10), answered 3; 5, 7, 9 s: median 7 s;
  abandoned 0; billable 120 and 75 -> 2; counted 2 + 1 = 3 of 2 x 2 days; at its cap on day 1.
- Charlie (tier 2, weight 2): routed 1 (call 7's failover), answered 1 after 6 s; billable 1.
- Tier 1 of the pool: observed 6/10 and 4/10 against weight shares 3/4 and 1/4; tier 2: 1/1.
- Calls: 12 (10 helpline, 2 facility), answered 10, abandoned 1, SAMHSA legs 1, answered legs
  10, all with an answered callback.
- Facility number: 2 calls, 1 answered (after 3 s).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime

import pytest

from finder.accounts.models import Role
from finder.extensions import db
from finder.operations.period import Period
from finder.operations.reports import build_report
from tests.operations_scenario import HELPLINE, build_scenario
from tests.staff_helpers import logged_in_client
from tests.voice_helpers import call_params, dials, new_call_sid, post, twiml

REPORTS = "/staff/calls/reports"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def scenario(app):
    return build_scenario(app)


@pytest.fixture
def operator(app, scenario):
    client, _ = logged_in_client(app, Role.OPERATOR)
    return client


def _by_id(report, advertiser_id):
    return next(a for a in report.advertisers if a.id == advertiser_id)


def test_report_figures_match_the_hand_computed_scenario(app, scenario):
    with app.app_context():
        report = build_report(db.session, Period(date(2026, 11, 20), date(2026, 11, 21)), 60)
    totals = report.totals
    assert totals.calls == 12
    assert totals.by_kind == {"helpline": 10, "facility": 2}
    assert totals.answered_calls == 10
    assert totals.abandoned == 1
    assert totals.samhsa_legs == 1
    assert (totals.answered_legs, totals.timed_legs) == (10, 10)

    alpha, bravo, charlie = (_by_id(report, i) for i in
                             (scenario.alpha, scenario.bravo, scenario.charlie))
    assert (alpha.routed, alpha.answered, alpha.abandoned, alpha.billable) == (6, 4, 1, 2)
    assert alpha.answer_rate == pytest.approx(4 / 6)
    assert sorted(alpha.answer_times) == [4, 8, 10, 12]
    assert alpha.median_answer_seconds == 9
    assert (alpha.counted, alpha.capacity, alpha.busiest_day, alpha.days_at_cap) == (4, 10, 2, 0)
    assert alpha.cap_utilisation == pytest.approx(0.4)

    assert (bravo.routed, bravo.answered, bravo.abandoned, bravo.billable) == (4, 3, 0, 2)
    assert bravo.answer_rate == pytest.approx(0.75)
    assert bravo.median_answer_seconds == 7
    assert (bravo.counted, bravo.capacity, bravo.busiest_day, bravo.days_at_cap) == (3, 4, 2, 1)
    assert bravo.cap_utilisation == pytest.approx(0.75)

    assert (charlie.routed, charlie.answered, charlie.abandoned, charlie.billable) == (1, 1, 0, 1)
    assert charlie.median_answer_seconds == 6
    assert (charlie.capacity, charlie.cap_utilisation, charlie.counted) == (None, None, 1)

    assert alpha.observed_share == pytest.approx(0.6)
    assert alpha.weight_share == pytest.approx(0.75)
    assert bravo.observed_share == pytest.approx(0.4)
    assert bravo.weight_share == pytest.approx(0.25)
    assert (charlie.observed_share, charlie.weight_share) == (1, 1)
    groups = {(g.tier, tuple(m.id for m in g.members)): g.routed for g in report.shares}
    assert groups == {(1, (scenario.alpha, scenario.bravo)): 10, (2, (scenario.charlie,)): 1}

    [number] = report.facility_numbers
    assert (number.number, number.calls, number.answered) == (scenario.facility_number, 2, 1)
    assert number.answer_rate == pytest.approx(0.5)
    assert number.median_answer_seconds == 3


def test_the_period_decides_which_calls_count(app, scenario):
    with app.app_context():
        day_one = build_report(db.session, Period(date(2026, 11, 20), date(2026, 11, 20)), 60)
        with_september = build_report(db.session, Period(date(2026, 9, 1), date(2026, 11, 21)),
                                      60)
        empty = build_report(db.session, Period(date(2026, 10, 1), date(2026, 10, 31)), 60)
    alpha = _by_id(day_one, scenario.alpha)
    assert (alpha.routed, alpha.answered, alpha.abandoned, alpha.counted) == (3, 2, 1, 2)
    assert day_one.totals.calls == 6
    assert _by_id(with_september, scenario.alpha).routed == 7
    assert _by_id(with_september, scenario.alpha).capacity == 5 * 82
    assert empty.totals.calls == 0
    assert all(a.routed == 0 and a.answer_rate is None for a in empty.advertisers)
    assert empty.facility_numbers == []


def test_the_billable_duration_is_configurable(app, scenario):
    with app.app_context():
        report = build_report(db.session, Period(date(2026, 11, 20), date(2026, 11, 21)), 100)
    assert [_by_id(report, i).billable for i in
            (scenario.alpha, scenario.bravo, scenario.charlie)] == [0, 1, 1]


def _row(html: str, attribute: str, value: int) -> list[str]:
    match = re.search(rf'<tr {attribute}="{value}">(.*?)</tr>', html, re.S)
    assert match, (attribute, value)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in
            re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", match.group(1), re.S)]


def test_the_report_page_shows_the_figures_for_the_last_30_utc_days(app, operator, scenario):
    response = operator.get(REPORTS)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "2026-10-23 to 2026-11-21" in html  # the clock says 2026-11-21
    assert "Days are UTC days" in html
    assert _row(html, "data-advertiser", scenario.alpha) == [
        "Alpha Recovery (fictional)", "Scenario pool", "6", "4", "67%", "9 s (4 timed)", "1", "2"]
    assert _row(html, "data-advertiser", scenario.bravo)[2:] == [
        "4", "3", "75%", "7 s (3 timed)", "0", "2"]
    assert _row(html, "data-caps", scenario.alpha)[1:] == ["5", "4", "150", "3%", "2", "0"]
    assert _row(html, "data-caps", scenario.bravo)[1:] == ["2", "3", "60", "5%", "2", "1"]
    assert _row(html, "data-share", scenario.alpha)[3:] == ["3", "6 of 10", "60%", "75%"]
    assert _row(html, "data-share", scenario.bravo)[3:] == ["1", "4 of 10", "40%", "25%"]
    assert _row(html, "data-number", scenario.facility_number_id)[2:] == [
        "2", "1", "50%", "3 s"]
    assert "Billable (≥ 60 s)" in html

    narrowed = operator.get(f"{REPORTS}?since=2026-11-20&until=2026-11-20").get_data(
        as_text=True)
    assert _row(narrowed, "data-advertiser", scenario.alpha)[2:4] == ["3", "2"]
    app.config["BILLABLE_SECONDS"] = 100
    html = operator.get(REPORTS).get_data(as_text=True)
    assert "Billable (≥ 100 s)" in html
    assert _row(html, "data-advertiser", scenario.alpha)[-1] == "0"


def _svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r"<svg\b.*?</svg>", html, re.S)]


def test_the_report_charts_are_svg_drawn_from_the_same_figures(app, operator, scenario):
    html = operator.get(REPORTS).get_data(as_text=True)
    # No inline script and nothing from elsewhere: only the site's own static files.
    for attributes, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S):
        assert re.search(r'\bsrc="/static/', attributes) and not body.strip()
    assert not re.search(r'<(?:script|link|img|iframe|object|embed)\b[^>]*'
                         r'(?:src|href)="(?:https?:)?//', html)
    charts = {svg.find(f"{SVG}title").text: svg for svg in _svgs(html)}
    assert set(charts) == {
        "Calls routed and answered, per advertiser",
        "Observed share of calls against weight share, per advertiser",
        "Calls and answered calls, per facility number",
    }
    calls = charts["Calls routed and answered, per advertiser"]
    routed = [float(bar.get("width")) for bar in calls.iter(f"{SVG}rect")
              if bar.get("data-series") == "0"]
    assert routed[0] > 0 and [w / routed[0] for w in routed] == pytest.approx(
        [1, 4 / 6, 1 / 6], abs=1e-4)
    shares = charts["Observed share of calls against weight share, per advertiser"]
    widths = {(bar.get("data-row"), bar.get("data-series")): float(bar.get("width"))
              for bar in shares.iter(f"{SVG}rect") if bar.get("data-row")}
    # Shares are drawn against 100%: Alpha observed 60%, weight 75%.
    assert widths[("0", "1")] / widths[("0", "0")] == pytest.approx(0.75 / 0.6, abs=1e-4)
    assert widths[("2", "0")] == widths[("2", "1")]


def test_bad_report_dates_are_form_errors(app, operator):
    for query in ("since=yesterday", "since=2026-11-21&until=2026-11-01",
                  "since=2020-01-01&until=2026-11-21", "until=2026-02-30",
                  "until=9999-12-31", "since=0001-01-01", "until=0001-01-01"):
        response = operator.get(f"{REPORTS}?{query}")
        assert response.status_code == 400, query
        assert "Please correct the dates above." in response.get_data(as_text=True)


def test_time_to_answer_without_an_answered_callback_is_not_recorded(app):
    scenario = build_scenario(app)
    app.config["CLOCK"] = lambda: datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    client = app.test_client()
    sid = new_call_sid()
    # A leg answered with no "answered" status callback received: no time to answer exists.
    root = twiml(post(client, "/voice/incoming", call_params(sid, HELPLINE,
                                                             from_="+12145550199")))
    twiml(post(client, dials(root)[0].get("action"),
               {"CallSid": sid, "DialCallStatus": "completed", "DialCallDuration": "61",
                "CallStatus": "in-progress"}))
    with app.app_context():
        report = build_report(db.session, Period(date(2026, 11, 22), date(2026, 11, 22)), 60)
    alpha = _by_id(report, scenario.alpha)
    assert (alpha.routed, alpha.answered, alpha.billable, alpha.answer_times) == (1, 1, 1, [])
    assert alpha.median_answer_seconds is None
    assert (report.totals.answered_legs, report.totals.timed_legs) == (1, 0)
    operator, _ = logged_in_client(app, Role.OPERATOR)
    html = operator.get(f"{REPORTS}?since=2026-11-22&until=2026-11-22").get_data(as_text=True)
    assert _row(html, "data-advertiser", scenario.alpha)[2:6] == [
        "1", "1", "100%", "not recorded"]
    assert "Time to answer was recorded for 0 of 1 answered legs" in html
