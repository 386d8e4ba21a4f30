"""The public "report a problem" form, and the staff queue where admins decide reports.

``moderation`` is public (no account; CSRF, a rate limit and two spam traps). Its sibling
``moderation_admin`` lives under /staff: operators read the queue, only admins decide.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from finder.accounts.roles import protect_blueprint
from finder.directory.models import Facility
from finder.extensions import db, limiter
from finder.listings.views import PRECISION_LABELS
from finder.moderation import spamtrap
from finder.moderation.forms import PROBLEM_CHOICES, DecisionForm, ReportForm
from finder.moderation.models import ProblemReport, ReportStatus
from finder.moderation.operations import (
    ReportError,
    apply_report,
    dismiss_report,
    find_reports,
    proposed_changes,
    submit_report,
)
from finder.staff import navigation
from finder.staff.queues import queue_filter
from finder.typed_text import has_control_characters

bp = Blueprint("moderation", __name__)
admin_bp = Blueprint("moderation_admin", __name__, url_prefix="/staff/reports")
protect_blueprint(admin_bp)
navigation.add_link("moderation_admin.queue", "Problem reports")

PROBLEM_LABELS = dict(PROBLEM_CHOICES)
STALE_MESSAGE = "This form was open too long or was changed. Please check it and send it again."


def _report_limit() -> str:
    return current_app.config["REPORT_RATE_LIMIT"]


def _thanks(facility: Facility):
    return render_template("moderation/thanks.html", facility=facility), 201


@bp.route("/facilities/<slug>/report", methods=["GET", "POST"])
@limiter.limit(_report_limit, methods=["POST"])
def report(slug: str):
    facility = None if has_control_characters(slug) else db.session.execute(
        select(Facility).where(Facility.slug == slug)
    ).scalar_one_or_none()
    if facility is None:
        abort(404, "We couldn't find that facility.")
    form = ReportForm()
    verdict = None
    if form.is_submitted():
        verdict = spamtrap.check(form.started.data, facility.id,
                                 min_seconds=current_app.config["REPORT_MIN_FILL_SECONDS"])
        if form.url.data or verdict == spamtrap.Verdict.TOO_FAST:
            # A bot sees the same thanks a person does, so it learns nothing; nothing is kept.
            current_app.logger.info("report form: spam trap (%s) for facility %s",
                                    "honeypot" if form.url.data else verdict, facility.id)
            return _thanks(facility)
        if form.validate_on_submit():
            if verdict == spamtrap.Verdict.OK:
                submit_report(
                    db.session, facility, problem=form.problem.data, message=form.message.data,
                    suggested_phone=form.suggested_phone.data,
                    suggested_website=form.suggested_website.data,
                    reporter_email=form.email.data,
                )
                db.session.commit()
                return _thanks(facility)
            form.form_errors.append(STALE_MESSAGE)
    if verdict != spamtrap.Verdict.OK:
        # A form shown again for corrections keeps its first time: fixing a typo quickly
        # must not look like a bot.
        form.started.data = spamtrap.issue(facility.id)
    status = 400 if form.is_submitted() else 200
    return render_template("moderation/report.html", facility=facility, form=form), status


@admin_bp.get("/")
def queue():
    status, page_number = queue_filter(request.args, ReportStatus)
    page = find_reports(db.session, status=status, page=page_number)
    return render_template("moderation/queue.html", page=page, status=status,
                           statuses=list(ReportStatus), labels=PROBLEM_LABELS,
                           args={"status": status.value} if status else {})


def _report_or_404(report_id: int) -> ProblemReport:
    found = db.session.get(ProblemReport, report_id)
    if found is None:
        abort(404, "There is no report with that number.")
    return found


def _detail(report: ProblemReport, form: DecisionForm | None = None, status: int = 200):
    return render_template(
        "moderation/detail.html", report=report, facility=report.facility,
        form=form or DecisionForm(formdata=None), labels=PROBLEM_LABELS,
        proposed=proposed_changes(report),
        precision_label=PRECISION_LABELS.get(report.facility.geo_precision, ""),
    ), status


@admin_bp.get("/<int:report_id>")
def detail(report_id: int):
    return _detail(_report_or_404(report_id))


def _decide(report_id: int, decide, done: str):
    report = _report_or_404(report_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _detail(report, form, 400)
    try:
        decide(db.session, report, actor=current_user._get_current_object(),
               note=form.note.data)
    except ReportError as error:
        db.session.rollback()
        flash(str(error))
        return redirect(url_for(".detail", report_id=report_id), 303)
    db.session.commit()
    flash(done.format(id=report.id))
    return redirect(url_for(".queue"), 303)


@admin_bp.post("/<int:report_id>/apply")
def apply(report_id: int):
    return _decide(report_id, apply_report, "Applied report #{id}.")


@admin_bp.post("/<int:report_id>/dismiss")
def dismiss(report_id: int):
    return _decide(report_id, dismiss_report, "Dismissed report #{id}.")
