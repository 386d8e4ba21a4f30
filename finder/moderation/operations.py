"""Visitors' problem reports: storing them, and an admin applying or dismissing them.

A decision claims the report with a conditional UPDATE (only an open report changes), so two
admins deciding the same report at once cannot both act on it. Every decision writes a change
entry for the report, and applying one also writes an entry for the facility it changed.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from finder.changes.record import changed_fields, record, snapshot
from finder.db import now_utc
from finder.directory.models import Facility, FacilityStatus
from finder.moderation.models import ProblemReport, ReportStatus
from finder.paging import Page
from finder.staff.queues import queue_page

PROBLEMS = ("phone", "address", "website", "closed", "services", "other")
PER_PAGE = 50


class ReportError(ValueError):
    """A decision that cannot be made; ``str(error)`` is a message for the admin."""


def submit_report(session: Session, facility: Facility, *, problem: str, message: str,
                  suggested_phone: str | None = None, suggested_website: str | None = None,
                  reporter_email: str | None = None) -> ProblemReport:
    """Store a visitor's report (already validated and normalized by the form), open."""
    if problem not in PROBLEMS:
        raise ReportError(f"Unknown problem kind {problem!r}.")
    suggested = {key: value for key, value in (("phone", suggested_phone),
                                               ("website", suggested_website)) if value}
    report = ProblemReport(
        facility_id=facility.id, problem=problem, message=message,
        suggested=suggested or None, reporter_email=reporter_email,
        status=ReportStatus.OPEN,
    )
    session.add(report)
    session.flush()
    return report


def proposed_changes(report: ProblemReport) -> dict[str, str]:
    """The facility columns applying the report would set (before checking current values)."""
    changes = {key: value for key, value in (report.suggested or {}).items()
               if key in ("phone", "website") and value}
    if report.problem == "closed":
        changes["status"] = FacilityStatus.CLOSED.value
    return changes


def _claim(session: Session, report: ProblemReport, status: ReportStatus, *, actor,
           note: str | None) -> None:
    result = session.execute(
        update(ProblemReport)
        .where(ProblemReport.id == report.id, ProblemReport.status == ReportStatus.OPEN)
        .values(status=status, decided_at=now_utc(), decided_by_id=getattr(actor, "id", None),
                decision_note=note or None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(report)
        raise ReportError(f"Report #{report.id} was already {report.status.value}.")
    session.refresh(report)


def _report_entry(session: Session, report: ProblemReport, *, actor, action: str,
                  summary: str, applied: dict | None = None) -> None:
    after = {"status": report.status.value, "decided_at": report.decided_at,
             "decision_note": report.decision_note}
    if applied is not None:
        after["applied"] = applied
    record(session, actor=actor, entity="problem_report", entity_id=report.id, action=action,
           summary=summary, before={"status": ReportStatus.OPEN.value}, after=after)


def apply_report(session: Session, report: ProblemReport, *, actor,
                 note: str | None = None) -> dict:
    """Set the suggested phone or website on the facility, close it for a "closed" report,
    and mark the report applied. Returns {field: [before, after]} of the facility."""
    _claim(session, report, ReportStatus.APPLIED, actor=actor, note=note)
    facility = session.get(Facility, report.facility_id)
    before = snapshot(facility)
    for key, value in proposed_changes(report).items():
        setattr(facility, key, FacilityStatus(value) if key == "status" else value)
    session.flush()
    after = snapshot(facility)
    changes = {k: v for k, v in changed_fields(before, after).items() if k != "updated_at"}
    if changes:
        record(session, actor=actor, entity="facility", entity_id=facility.id,
               action="apply_report",
               summary=f"Applied report #{report.id} to {facility.name1} ({facility.slug}): "
               + ", ".join(changes),
               before=before, after=after)
    what = ", ".join(changes) if changes else "no change to the listing"
    _report_entry(session, report, actor=actor, action="apply",
                  summary=f"Applied report #{report.id} ({report.problem}) on "
                  f"{facility.name1}: {what}", applied=changes)
    return changes


def dismiss_report(session: Session, report: ProblemReport, *, actor,
                   note: str | None = None) -> None:
    _claim(session, report, ReportStatus.DISMISSED, actor=actor, note=note)
    _report_entry(session, report, actor=actor, action="dismiss",
                  summary=f"Dismissed report #{report.id} ({report.problem}) on "
                  f"{report.facility.name1}" + (f" — {note}" if note else ""))


def find_reports(session: Session, *, status: ReportStatus | None = None, page: int = 1,
                 per_page: int = PER_PAGE) -> Page:
    """Open reports first (oldest first: they have waited longest), then decided ones, newest
    decision first."""
    return queue_page(session, ProblemReport, waiting=ReportStatus.OPEN, status=status,
                      page=page, per_page=per_page,
                      options=(selectinload(ProblemReport.facility),
                               selectinload(ProblemReport.decided_by)))


def open_report_count(session: Session) -> int:
    return session.execute(
        select(func.count()).select_from(ProblemReport)
        .where(ProblemReport.status == ReportStatus.OPEN)
    ).scalar_one()
