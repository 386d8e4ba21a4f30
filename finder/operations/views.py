"""The operators' dashboard under /staff/calls: call log, call detail, reports, integrity, what-if.

Every page only reads (the what-if decides a hypothetical call and records nothing), so all
routes are GET and operators may use all of them. Views translate HTTP; the figures come from
``queries``, ``reports``, ``finder.calls.integrity`` and ``finder.calls.simulate``.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    stream_with_context,
)
from sqlalchemy.orm import selectinload

from finder.accounts.roles import protect_blueprint
from finder.calls.integrity import check_audit
from finder.calls.models import Advertiser, Call, TrackingNumber
from finder.calls.simulate import SimulationError, simulate
from finder.calls.views import now as routing_now
from finder.extensions import db
from finder.operations import charts, exports, queries, reports
from finder.operations.forms import LogFilterForm, ReportForm, WhatIfForm, time_zones
from finder.operations.period import as_utc
from finder.paging import page_number
from finder.staff import navigation

bp = Blueprint("operations", __name__, url_prefix="/staff/calls")
protect_blueprint(bp)
navigation.add_link("operations.log", "Calls")
navigation.add_link("operations.report", "Call reports")
navigation.add_link("operations.integrity", "Audit integrity")
navigation.add_link("operations.what_if", "What-if")

#: Zones offered as suggestions in the what-if form (any IANA name is accepted).
SUGGESTED_ZONES = ("UTC", "America/New_York", "America/Chicago", "America/Denver",
                   "America/Phoenix", "America/Los_Angeles", "America/Anchorage",
                   "Pacific/Honolulu", "America/Puerto_Rico")


@bp.context_processor
def _helpers():
    return {"utc": _utc, "seconds": _seconds, "share": _share, "reason_text": REASON_TEXT}


def _utc(moment) -> str:
    moment = as_utc(moment)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _seconds(value) -> str:
    if value is None:
        return "not recorded"
    return f"{value:,.0f} s" if float(value).is_integer() else f"{value:,.1f} s"


def _share(value) -> str:
    return "n/a" if value is None else f"{value:.0%}"


#: Each eligibility reason code in plain words, beside the code in decision tables.
REASON_TEXT = {
    "inactive": "not active",
    "license_missing": "no license on file",
    "license_expired": "license expired",
    "accreditation_missing": "no accreditation on file",
    "accreditation_expired": "accreditation expired",
    "certification_missing": "no certification on file",
    "certification_expired": "certification expired",
    "contract_not_current": "no current contract",
    "no_consent_to_be_named": "has not agreed to be named to callers",
    "outside_business_hours": "closed at that hour",
    "daily_cap_reached": "daily cap reached",
    "monthly_cap_reached": "monthly cap reached",
    "concurrent_cap_reached": "too many calls at once",
    "state_not_served": "does not serve the caller's state",
    "caller_state_unknown": "the caller's state is not known",
    "answer_rate_too_low": "answers too few calls",
    "already_tried": "already rung on this call",
}


def _page_arg() -> int:
    return page_number(request.args.get("page"))


def _log_form() -> LogFilterForm:
    form = LogFilterForm(request.args)
    numbers = db.session.execute(
        sa.select(TrackingNumber).order_by(TrackingNumber.kind, TrackingNumber.number)
    ).scalars().all()
    advertisers = db.session.execute(
        sa.select(Advertiser).order_by(Advertiser.name, Advertiser.id)).scalars().all()
    outcomes = db.session.execute(
        sa.select(Call.outcome).where(Call.outcome.is_not(None)).distinct()).scalars().all()
    form.set_choices(numbers, advertisers, outcomes)
    return form


def _filter_args() -> dict:
    return {k: v for k, v in request.args.items() if k != "page" and v}


@bp.get("/")
def log():
    form = _log_form()
    if not form.validate():
        return render_template("operations/log.html", form=form, page=None, args={}), 400
    page = queries.call_page(db.session, form.to_filter(), _page_arg())
    return render_template("operations/log.html", form=form, page=page, args=_filter_args())


@bp.get("/export.csv")
def export_csv():
    form = _log_form()
    if not form.validate():
        return render_template("operations/log.html", form=form, page=None, args={}), 400
    rows = queries.all_calls(db.session, form.to_filter())
    stamp = routing_now().strftime("%Y%m%d-%H%M%S")
    return Response(stream_with_context(exports.csv_chunks(rows)), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=calls-{stamp}.csv"})


@bp.get("/<int:call_id>")
def detail(call_id: int):
    found = queries.call_detail(db.session, call_id) or abort(404)
    return render_template("operations/detail.html", detail=found)


def _report_charts(report: reports.Report) -> dict:
    advertisers = [a for a in report.advertisers if a.routed or a.active]
    labels = [a.name for a in advertisers]
    shares = [m for g in report.shares for m in g.members]
    numbers = report.facility_numbers[:20]
    return {
        "calls": charts.bar_chart(
            "chart-calls", "Calls routed and answered, per advertiser", labels,
            [charts.Series("routed", [a.routed for a in advertisers]),
             charts.Series("answered", [a.answered for a in advertisers])], fmt=charts.whole),
        "shares": charts.bar_chart(
            "chart-shares", "Observed share of calls against weight share, per advertiser",
            [f"{m.name} (tier {m.tier})" for m in shares],
            [charts.Series("observed share", [m.observed_share for m in shares]),
             charts.Series("weight share", [m.weight_share for m in shares])],
            maximum=1, fmt=charts.percent),
        "numbers": charts.bar_chart(
            "chart-numbers", "Calls and answered calls, per facility number",
            [f"{n.number} {n.facility_name}" for n in numbers],
            [charts.Series("calls", [n.calls for n in numbers]),
             charts.Series("answered", [n.answered for n in numbers])], fmt=charts.whole),
    }


@bp.get("/reports")
def report():
    form = ReportForm(request.args, routing_now().date())
    if not form.validate():
        return render_template("operations/reports.html", form=form, report=None), 400
    billable = int(current_app.config.get("BILLABLE_SECONDS", 60))
    built = reports.build_report(db.session, form.period(), billable)
    return render_template("operations/reports.html", form=form, report=built,
                           **_report_charts(built))


@bp.get("/integrity")
def integrity():
    result = check_audit(db.session)
    return render_template("operations/integrity.html", result=result, checked_at=routing_now())


@bp.get("/what-if")
def what_if():
    form = WhatIfForm(request.args)
    numbers = db.session.execute(
        sa.select(TrackingNumber).where(TrackingNumber.retired_at.is_(None))
        .options(selectinload(TrackingNumber.facility), selectinload(TrackingNumber.pool))
        .order_by(TrackingNumber.kind, TrackingNumber.number)).scalars().all()
    form.set_numbers(numbers)
    context = {"form": form, "zones": sorted(set(SUGGESTED_ZONES) & time_zones()),
               "result": None, "decision": None}
    if "number" not in request.args:
        return render_template("operations/what_if.html", **context)
    if not form.validate():
        return render_template("operations/what_if.html", **context), 400
    zone = ZoneInfo(form.zone.data)
    at = (form.at.data.replace(tzinfo=zone) if form.at.data
          else routing_now().astimezone(zone))
    try:
        result = simulate(db.session, number=form.number.data, at=at,
                          state=form.state.data or None, zip_code=form.zip.data or None,
                          hash_key=str(current_app.config["CALLER_HASH_KEY"]).encode())
        page = render_template(
            "operations/what_if.html", **{**context, "result": result.as_dict(),
                                          "decision": _simulated_decision(result)})
    except SimulationError as error:
        field = {"state": form.state, "zip": form.zip, "at": form.at}.get(error.param,
                                                                          form.number)
        field.errors = [*field.errors, str(error)]
        page = render_template("operations/what_if.html", **context), 400
    finally:
        db.session.rollback()  # nothing was written; nothing may be left pending either
    return page


def _simulated_decision(result) -> dict | None:
    data = result.as_dict()
    if data["decision"] is None:
        return None
    payload = {**data["decision"], "pool_id": data["pool"]["id"],
               "pool_config_hash": data["pool"]["config_hash"]}
    return queries.decision_view(payload)
