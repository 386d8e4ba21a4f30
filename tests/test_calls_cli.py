"""The operator commands: audit verify, routing simulate, numbers list (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from finder.calls.models import Call, TrackingNumber
from finder.calls.routing import RoutingSettings, finish_attempt, open_call, route_helpline
from finder.calls.simulate import Simulation, simulate
from finder.db import Base
from finder.extensions import db
from tests.factories import (
    make_advertiser,
    make_facility,
    make_pool,
    make_tracking_number,
)

NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)  # Saturday, noon in Chicago
CALLER = "+12145550142"
HASH_KEY = "test-caller-hash-key"


@pytest.fixture
def cli_app(app):
    app.config["CALLER_HASH_KEY"] = HASH_KEY
    return app


@pytest.fixture
def setup(cli_app):
    """A helpline with a 24/7 advertiser, a weekday-only one, and a facility number."""
    with cli_app.app_context():
        pool = make_pool(db.session, name="CLI pool")
        always = make_advertiser(db.session, pool, name="Example Always Open (fictional)")
        weekdays = make_advertiser(
            db.session, pool, name="Example Weekdays Only (fictional)", weight=5,
            hours={day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
        )
        helpline = make_tracking_number(db.session, pool=pool)
        facility = make_facility(db.session, name1="Example Facility", phone="+14345550177",
                                 intake_phone="+14345550178")
        facility_number = make_tracking_number(db.session, facility=facility)
        retired = make_tracking_number(db.session, pool=pool, retired_at=NOW)
        db.session.commit()
        return {
            "always": always.id, "weekdays": weekdays.id, "helpline": helpline.number,
            "facility": facility_number.number, "retired": retired.number,
        }


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def routed_calls(count: int) -> None:
    """``count`` calls to the first helpline, each connected and finished."""
    helpline = db.session.execute(
        sa.select(TrackingNumber).where(TrackingNumber.pool_id.is_not(None))
        .order_by(TrackingNumber.id)
    ).scalars().first()
    for n in range(count):
        call = open_call(db.session, call_sid=f"CA-cli-{n}", to_number=helpline.number,
                         from_number=CALLER, twilio_from_state=None,
                         hash_key=HASH_KEY.encode(), now=NOW)
        leg = route_helpline(db.session, call, helpline.pool, NOW, RoutingSettings())
        finish_attempt(db.session, leg.attempt, dial_call_status="completed", duration=60,
                       now=NOW)
    db.session.commit()


def row_counts() -> dict[str, int]:
    return {
        table.name: db.session.execute(sa.select(sa.func.count()).select_from(table)).scalar()
        for table in Base.metadata.sorted_tables
    }


# --- flask audit verify ------------------------------------------------------------------------


def test_audit_verify_on_an_empty_and_an_intact_chain(cli_app, setup):
    result = invoke(cli_app, "audit", "verify")
    assert result.exit_code == 0 and "Audit chain intact: 0 rows checked." in result.output
    with cli_app.app_context():
        routed_calls(3)
    result = invoke(cli_app, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Audit chain intact: 6 rows checked."


def test_audit_verify_names_an_altered_row(cli_app, setup):
    with cli_app.app_context():
        routed_calls(3)
        db.session.execute(sa.text(
            "UPDATE routing_audit SET payload = replace(payload, 'completed', 'busy') "
            "WHERE id = 4"))
        db.session.commit()
    result = invoke(cli_app, "audit", "verify")
    assert result.exit_code == 1
    assert result.output.strip() == ("Audit chain BROKEN at row 4: row 4 was altered after it "
                                     "was written")


def test_audit_verify_notices_rows_cut_off_the_end(cli_app, setup):
    with cli_app.app_context():
        routed_calls(3)
        # Cutting the last call's rows leaves a chain that still links up.
        db.session.execute(sa.text("DELETE FROM routing_audit WHERE id >= 5"))
        db.session.commit()
        last_call = db.session.execute(sa.select(sa.func.max(Call.id))).scalar()
    result = invoke(cli_app, "audit", "verify")
    assert result.exit_code == 1
    assert result.output.startswith("Audit chain BROKEN at row 5: no decision row for call "
                                    f"{last_call} attempt 1")


def test_audit_verify_names_a_deleted_middle_row(cli_app, setup):
    with cli_app.app_context():
        routed_calls(2)
        db.session.execute(sa.text("DELETE FROM routing_audit WHERE id = 2"))
        db.session.commit()
    result = invoke(cli_app, "audit", "verify")
    assert result.exit_code == 1
    assert "BROKEN at row 2: row 2 is missing" in result.output


# --- flask routing simulate ----------------------------------------------------------------------


def test_simulate_prints_the_decision_table_and_records_nothing(cli_app, setup):
    with cli_app.app_context():
        routed_calls(1)  # the 24/7 advertiser has one call today
        before = row_counts()
    result = invoke(cli_app, "routing", "simulate", "--number", setup["helpline"],
                    "--state", "TX", "--at", "2026-11-23T10:00-06:00")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "caller state TX (signal: given)" in out
    assert "Example Always Open (fictional)" in out and "Example Weekdays Only" in out
    assert "today 0 (no cap)" in out  # Monday 23 November: a new local day
    assert "Rule: tier_weight." in out
    # On a Monday morning the heavier weekday advertiser is open and chosen.
    assert "Chosen: Example Weekdays Only (fictional)" in out
    assert "Nothing was recorded" in out
    with cli_app.app_context():
        assert row_counts() == before

    saturday = invoke(cli_app, "routing", "simulate", "--number", setup["helpline"],
                      "--state", "TX", "--at", "2026-11-21T22:00-06:00")
    assert "outside_business_hours" in saturday.output
    assert "today 1 (no cap)" in saturday.output
    assert "Chosen: Example Always Open (fictional)" in saturday.output


def test_simulate_json_for_scripts(cli_app, setup):
    result = invoke(cli_app, "routing", "simulate", "--number", setup["helpline"], "--state",
                    "CA", "--at", "2026-11-21T22:00-06:00", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["recorded"] is False and data["kind"] == "helpline"
    assert data["caller"] == {"state": "CA", "state_signal": "given", "last_four": None,
                              "previous_advertiser_id": None}
    decision = data["decision"]
    assert decision["rule"] == "none_eligible"
    assert {tuple(c["reasons"])[-1] for c in decision["candidates"]} == {"state_not_served"}
    assert data["destination"]["kind"] == "samhsa" and data["destination"]["number"] == \
        "+18006624357"
    assert len(data["pool"]["config_hash"]) == 64


def test_simulate_a_repeat_caller_without_showing_the_number(cli_app, setup):
    with cli_app.app_context():
        routed_calls(1)  # CALLER reached the 24/7 advertiser on Saturday
    # On Monday the heavier weekday advertiser would be chosen, but the caller goes back.
    result = invoke(cli_app, "routing", "simulate", "--number", setup["helpline"],
                    "--caller", CALLER, "--at", "2026-11-23T10:00-06:00")
    assert result.exit_code == 0, result.output
    assert f"Repeat caller: advertiser #{setup['always']}" in result.output
    assert "Rule: repeat_caller." in result.output
    assert "caller state TX (signal: area_code), caller …0142" in result.output
    assert CALLER not in result.output and CALLER[2:] not in result.output


def test_simulate_a_facility_number(cli_app, setup):
    result = invoke(cli_app, "routing", "simulate", "--number", setup["facility"])
    assert result.exit_code == 0, result.output
    assert "It rings Example Facility at +14345550178 and no one else." in result.output
    data = json.loads(invoke(cli_app, "routing", "simulate", "--number", setup["facility"],
                             "--json").output)
    assert data["destination"] == {"kind": "facility", "name": "Example Facility",
                                   "number": "+14345550178"}
    assert data["decision"] is None and data["pool"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--number", "not a number"], "is not a valid phone number"),
        (["--number", "+12025550100"], "is not an active tracking number"),
        (["--number", "RETIRED"], "is not an active tracking number"),
        (["--number", "HELPLINE", "--at", "2026-11-21T22:00"], "has no UTC offset"),
        (["--number", "HELPLINE", "--at", "tomorrow"], "is not a date and time"),
        (["--number", "HELPLINE", "--state", "Narnia"], "is not a US state"),
        (["--number", "HELPLINE", "--zip", "00000"], "is not a known 5-digit ZIP"),
        (["--number", "HELPLINE", "--caller", "12"], "not a valid phone number"),
    ],
)
def test_simulate_refuses_bad_input_clearly(cli_app, setup, args, message):
    args = [{"RETIRED": setup["retired"], "HELPLINE": setup["helpline"]}.get(a, a) for a in args]
    result = invoke(cli_app, "routing", "simulate", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_simulation_dict_matches_the_table(cli_app, setup):
    with cli_app.app_context():
        result = simulate(db.session, number=setup["helpline"], at=NOW, state="TX",
                          hash_key=b"k")
        assert isinstance(result, Simulation)
        assert result.destination["advertiser_id"] == setup["always"]
        assert not db.session.new and not db.session.dirty


# --- flask numbers list --------------------------------------------------------------------------


def test_numbers_list(cli_app, setup):
    result = invoke(cli_app, "numbers", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    facility_line = next(line for line in lines if line.startswith(setup["facility"]))
    assert "facility  Example Facility (Charlottesville, VA) rings +14345550178" in facility_line
    helpline_line = next(line for line in lines if line.startswith(setup["helpline"]))
    assert "helpline  pool 'CLI pool': 2 advertisers" in helpline_line
    assert "RETIRED" not in helpline_line
    assert any(line.startswith(setup["retired"]) and "[RETIRED 2026-11-21]" in line
               for line in lines)
    assert any("Example Always Open (fictional)" in line and "eligible now" in line
               and "not eligible" not in line for line in lines)

    data = json.loads(invoke(cli_app, "numbers", "list", "--json").output)
    by_number = {entry["number"]: entry for entry in data}
    assert by_number[setup["facility"]]["facility"]["rings"] == "+14345550178"
    assert by_number[setup["retired"]]["retired"] is True
    advertisers = by_number[setup["helpline"]]["pool"]["advertisers"]
    assert [a["name"] for a in advertisers] == ["Example Always Open (fictional)",
                                                "Example Weekdays Only (fictional)"]
    assert all(a["active"] for a in advertisers)
    assert advertisers[0]["eligible_now"] is True


def test_numbers_list_without_numbers(cli_app):
    result = invoke(cli_app, "numbers", "list")
    assert result.exit_code == 0 and result.output.strip() == "No tracking numbers."
    assert json.loads(invoke(cli_app, "numbers", "list", "--json").output) == []
