"""The public "report a problem" form and the moderation queue, through the real pages."""

from __future__ import annotations

import re
import time
from html import unescape

import pytest
from sqlalchemy import select

from finder.accounts.models import Role
from finder.changes.models import ChangeEntry
from finder.directory.models import Facility, FacilityStatus
from finder.extensions import db
from finder.moderation import spamtrap
from finder.moderation.models import ProblemReport, ReportStatus
from finder.moderation.operations import submit_report
from tests.conftest import dispose, make_app
from tests.factories import make_facility
from tests.staff_helpers import csrf_token, logged_in_client, row_counts

PHONE = "+14345550160"
REPORT = {
    "problem": "phone",
    "message": "The number rings a pizza place now.",
    "suggested_phone": "(434) 555-0161",
    "suggested_website": "",
    "email": "",
    "url": "",
}


@pytest.fixture
def app(databases, migrated_template):
    """A fresh database whose report form has no minimum fill time and a small rate limit."""
    app = make_app(databases.new(template=migrated_template), REPORT_MIN_FILL_SECONDS=0,
                   REPORT_RATE_LIMIT="4 per hour")
    yield app
    dispose(app)


@pytest.fixture
def facility(app):
    with app.app_context():
        found = make_facility(db.session, phone=PHONE, website="http://old.example.org")
        db.session.commit()
        db.session.refresh(found)
        db.session.expunge(found)
        return found


def text_of(response) -> str:
    html = response.get_data(as_text=True)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def form_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the report form (the CSRF token and the signed start time)."""
    fields = {}
    for tag in re.findall(r'<input[^>]*type="hidden"[^>]*>', html):
        name = re.search(r'name="([^"]+)"', tag).group(1)
        fields[name] = unescape(re.search(r'value="([^"]*)"', tag).group(1))
    return fields


def send_report(client, slug: str, data: dict, **overrides):
    page = client.get(f"/facilities/{slug}/report")
    assert page.status_code == 200
    hidden = form_fields(page.get_data(as_text=True))
    return client.post(f"/facilities/{slug}/report", data={**hidden, **data, **overrides})


def reports(app) -> list[ProblemReport]:
    with app.app_context():
        rows = db.session.execute(select(ProblemReport).order_by(ProblemReport.id)).scalars()
        rows = rows.all()
        for row in rows:
            db.session.expunge(row)
        return rows


def entries(app, **where) -> list[ChangeEntry]:
    with app.app_context():
        query = select(ChangeEntry).order_by(ChangeEntry.id).filter_by(**where)
        rows = db.session.execute(query).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return rows


def test_facility_page_links_to_the_report_form(app, facility):
    client = app.test_client()
    page = client.get(f"/facilities/{facility.slug}")
    assert f'href="/facilities/{facility.slug}/report"' in page.get_data(as_text=True)
    form = client.get(f"/facilities/{facility.slug}/report")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert 'name="csrf_token"' in html and 'name="started"' in html
    # The honeypot is hidden by a stylesheet class, not an inline style (the CSP forbids them).
    trap = re.search(r'<div class="trap" aria-hidden="true">(.*?)</div>', html, re.S)
    assert trap and 'name="url"' in trap.group(1) and 'tabindex="-1"' in trap.group(1)
    assert "style=" not in html
    with app.open_resource("static/site.css") as css:
        assert re.search(rb"\.trap \{[^}]*left: -10000px", css.read())


def test_a_report_is_stored_open_without_an_account(app, facility):
    client = app.test_client()
    response = send_report(client, facility.slug, REPORT, suggested_website="example.org/new",
                           email="Visitor@Example.org")
    assert response.status_code == 201
    assert "We received your report" in text_of(response)
    [report] = reports(app)
    assert report.facility_id == facility.id and report.status == ReportStatus.OPEN
    assert report.problem == "phone" and report.message == REPORT["message"]
    assert report.suggested == {"phone": "+14345550161", "website": "https://example.org/new"}
    assert report.reporter_email == "Visitor@Example.org"
    assert report.decided_at is None and report.decided_by_id is None


def test_a_report_without_suggestions_stores_none(app, facility):
    response = send_report(app.test_client(), facility.slug, REPORT, problem="services",
                           suggested_phone="")
    assert response.status_code == 201
    [report] = reports(app)
    assert report.suggested is None and report.reporter_email is None


INVALID = {
    "no problem kind": ({"problem": ""}, "Choose what is wrong with the listing."),
    "unknown problem kind": ({"problem": "rude"}, "Not a valid choice"),
    "no message": ({"message": "   "}, "Tell us what is wrong, in a few words."),
    "message too long": ({"message": "x" * 2001}, "Keep it under 2,000 characters."),
    "bad phone": ({"suggested_phone": "555-01"}, "That is not a valid US phone number"),
    "bad website": ({"suggested_website": "javascript:alert(1)"},
                    "Use a web address starting with http:// or https://."),
    "bad email": ({"email": "not-an-email"}, "Enter an email address like name@example.org."),
}


@pytest.mark.parametrize("case", INVALID, ids=list(INVALID))
def test_bad_input_shows_field_errors_and_stores_nothing(app, facility, case):
    changes, message = INVALID[case]
    before = row_counts(app)
    response = send_report(app.test_client(), facility.slug, REPORT, **changes)
    assert response.status_code == 400
    html = unescape(response.get_data(as_text=True))
    assert message in html and 'class="field-error"' in html
    assert row_counts(app) == before


def test_message_of_2000_characters_is_accepted(app, facility):
    response = send_report(app.test_client(), facility.slug, REPORT, message="x" * 2000)
    assert response.status_code == 201
    assert len(reports(app)) == 1


def test_without_csrf_token_nothing_is_stored(app, facility):
    client = app.test_client()
    page = client.get(f"/facilities/{facility.slug}/report")
    started = form_fields(page.get_data(as_text=True))["started"]
    response = client.post(f"/facilities/{facility.slug}/report",
                           data={**REPORT, "started": started})
    assert response.status_code == 400
    assert reports(app) == []


def test_honeypot_gets_the_same_thanks_and_stores_nothing(app, facility):
    client = app.test_client()
    person = send_report(client, facility.slug, REPORT)
    bot = send_report(client, facility.slug, REPORT, url="http://spam.example")
    assert bot.status_code == person.status_code == 201
    assert text_of(bot) == text_of(person)
    assert len(reports(app)) == 1
    # Even a bot that fills everything badly gets the thanks, so it learns nothing.
    bot = send_report(client, facility.slug, {"url": "http://spam.example"})
    assert bot.status_code == 201 and len(reports(app)) == 1


def test_a_form_sent_too_fast_is_dropped_quietly(app, facility):
    app.config["REPORT_MIN_FILL_SECONDS"] = 60
    response = send_report(app.test_client(), facility.slug, REPORT)
    assert response.status_code == 201 and "We received your report" in text_of(response)
    assert reports(app) == []
    # Shown two minutes ago (signed by the server), the same report is kept.
    with app.test_request_context():
        earlier = spamtrap.issue(facility.id, now=time.time() - 120)
    response = send_report(app.test_client(), facility.slug, REPORT, started=earlier)
    assert response.status_code == 201 and len(reports(app)) == 1


def test_a_corrected_form_keeps_its_first_start_time(app, facility):
    app.config["REPORT_MIN_FILL_SECONDS"] = 60
    with app.test_request_context():
        earlier = spamtrap.issue(facility.id, now=time.time() - 120)
    client = app.test_client()
    response = send_report(client, facility.slug, REPORT, started=earlier, email="nope")
    assert response.status_code == 400
    shown_again = form_fields(response.get_data(as_text=True))
    assert shown_again["started"] == earlier
    # Fixed at once: not mistaken for a bot, because the form was first shown two minutes ago.
    response = client.post(f"/facilities/{facility.slug}/report",
                           data={**shown_again, **REPORT})
    assert response.status_code == 201 and len(reports(app)) == 1


def test_line_ends_count_once(app, facility):
    message = "line\r\n" * 400  # 2,400 characters as sent, 1,999 as a browser counts them
    response = send_report(app.test_client(), facility.slug, REPORT, message=message)
    assert response.status_code == 201
    [report] = reports(app)
    assert report.message == ("line\n" * 400).strip() and "\r" not in report.message


@pytest.mark.parametrize("token", ["", "forged", "stale", "other-facility"])
def test_a_missing_forged_or_stale_start_time_is_refused(app, facility, token):
    with app.test_request_context():
        value = {
            "": "",
            "forged": spamtrap.issue(facility.id).replace(".", ".x", 1),
            "stale": spamtrap.issue(facility.id, now=time.time() - 2 * 86400),
            "other-facility": spamtrap.issue(facility.id + 1),
        }[token]
    response = send_report(app.test_client(), facility.slug, REPORT, started=value)
    assert response.status_code == 400
    assert "Please check it and send it again." in text_of(response)
    assert reports(app) == []
    # The page comes back with a fresh start time that works.
    retry = app.test_client()
    assert send_report(retry, facility.slug, REPORT).status_code == 201


def test_reports_are_rate_limited_per_address(app, facility):
    client = app.test_client()
    for _ in range(4):
        assert send_report(client, facility.slug, REPORT).status_code == 201
    limited = send_report(client, facility.slug, REPORT)
    assert limited.status_code == 429
    assert len(reports(app)) == 4
    other = app.test_client()
    page = other.get(f"/facilities/{facility.slug}/report",
                     environ_base={"REMOTE_ADDR": "192.0.2.7"})
    response = other.post(f"/facilities/{facility.slug}/report",
                          data={**form_fields(page.get_data(as_text=True)), **REPORT},
                          environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert response.status_code == 201


def test_unknown_facility_is_404(app):
    assert app.test_client().get("/facilities/no-such-place/report").status_code == 404


# -- the queue ---------------------------------------------------------------------------------


def make_report(app, facility_id: int, **fields) -> int:
    with app.app_context():
        found = db.session.get(Facility, facility_id)
        values = {"problem": "phone", "message": "Wrong number"} | fields
        report = submit_report(db.session, found, **values)
        db.session.commit()
        return report.id


def decide(client, report_id: int, action: str, note: str = ""):
    page = client.get(f"/staff/reports/{report_id}")
    assert page.status_code == 200
    token = csrf_token(page.data)
    return client.post(f"/staff/reports/{report_id}/{action}",
                       data={"csrf_token": token, "note": note})


def test_queue_lists_open_reports_first_and_filters(app, facility):
    admin, _ = logged_in_client(app, Role.ADMIN)
    first = make_report(app, facility.id, message="first")
    second = make_report(app, facility.id, problem="closed", message="second")
    third = make_report(app, facility.id, problem="other", message="third")
    assert decide(admin, first, "dismiss").status_code == 303

    def listed(**args):
        response = admin.get("/staff/reports/", query_string=args)
        assert response.status_code == 200
        return [int(n) for n in re.findall(r'href="/staff/reports/(\d+)"',
                                            response.get_data(as_text=True))]

    assert listed() == [second, third, first]
    assert listed(status="open") == [second, third]
    assert listed(status="dismissed") == [first]
    assert listed(status="applied") == []
    assert admin.get("/staff/reports/?status=bogus").status_code == 400


def test_applying_a_phone_report_sets_the_phone_and_logs_both(app, facility):
    admin, email = logged_in_client(app, Role.ADMIN)
    report_id = make_report(app, facility.id, suggested_phone="+14345550161",
                            suggested_website="https://new.example.org")
    page = text_of(admin.get(f"/staff/reports/{report_id}"))
    assert "(434) 555-0160" in page and "(434) 555-0161" in page  # now and suggested
    response = decide(admin, report_id, "apply", note="Called them")
    assert response.status_code == 303
    with app.app_context():
        changed = db.session.get(Facility, facility.id)
        assert changed.phone == "+14345550161"
        assert changed.website == "https://new.example.org"
        assert changed.status == FacilityStatus.ACTIVE
    [report] = reports(app)
    assert report.status == ReportStatus.APPLIED and report.decision_note == "Called them"
    assert report.decided_at is not None and report.decided_by_id is not None
    [listing_entry] = entries(app, entity="facility", action="apply_report")
    assert listing_entry.before["phone"] == PHONE
    assert listing_entry.after["phone"] == "+14345550161"
    assert listing_entry.summary.endswith(": phone, website") and listing_entry.actor == email
    [report_entry] = entries(app, entity="problem_report", action="apply")
    assert report_entry.entity_id == str(report_id)
    assert report_entry.before == {"status": "open"}
    assert report_entry.after["status"] == "applied"
    assert report_entry.after["decision_note"] == "Called them"

    # A second decision on the same report is refused and changes nothing.
    before = row_counts(app)
    response = admin.post(f"/staff/reports/{report_id}/dismiss",
                          data={"csrf_token": csrf_token(admin.get("/staff/").data)})
    assert response.status_code == 303
    assert "already applied" in text_of(admin.get(f"/staff/reports/{report_id}"))
    assert row_counts(app) == before
    assert reports(app)[0].status == ReportStatus.APPLIED


def test_applying_a_closed_report_closes_the_listing(app, facility):
    admin, _ = logged_in_client(app, Role.ADMIN)
    report_id = make_report(app, facility.id, problem="closed", message="Shut in May")
    assert decide(admin, report_id, "apply").status_code == 303
    page = app.test_client().get(f"/facilities/{facility.slug}")
    assert "Our records list this facility as closed" in text_of(page)
    [entry] = entries(app, entity="facility", action="apply_report")
    assert (entry.before["status"], entry.after["status"]) == ("active", "closed")


def test_dismissing_leaves_the_listing_alone(app, facility):
    admin, _ = logged_in_client(app, Role.ADMIN)
    report_id = make_report(app, facility.id, suggested_phone="+14345550161")
    assert decide(admin, report_id, "dismiss", note="Number checks out").status_code == 303
    with app.app_context():
        assert db.session.get(Facility, facility.id).phone == PHONE
    [report] = reports(app)
    assert report.status == ReportStatus.DISMISSED and report.decided_by_id is not None
    assert entries(app, entity="facility") == []
    [entry] = entries(app, entity="problem_report", action="dismiss")
    assert "Number checks out" in entry.summary


def test_a_too_long_note_is_refused(app, facility):
    admin, _ = logged_in_client(app, Role.ADMIN)
    report_id = make_report(app, facility.id, suggested_phone="+14345550161")
    before = row_counts(app)
    response = decide(admin, report_id, "apply", note="n" * 501)
    assert response.status_code == 400
    assert "Field cannot be longer than 500 characters." in text_of(response)
    assert row_counts(app) == before


def test_operators_read_the_queue_but_cannot_decide(app, facility):
    operator, _ = logged_in_client(app, Role.OPERATOR)
    report_id = make_report(app, facility.id, suggested_phone="+14345550161")
    assert operator.get("/staff/reports/").status_code == 200
    page = operator.get(f"/staff/reports/{report_id}")
    assert page.status_code == 200
    assert "only admins can apply or dismiss them" in text_of(page)
    before = row_counts(app)
    for action in ("apply", "dismiss"):
        response = operator.post(f"/staff/reports/{report_id}/{action}",
                                 data={"csrf_token": csrf_token(page.data)})
        assert response.status_code == 403
    assert row_counts(app) == before
    assert reports(app)[0].status == ReportStatus.OPEN


def test_anonymous_visitors_are_sent_to_log_in(app, facility):
    report_id = make_report(app, facility.id)
    client = app.test_client()
    response = client.get(f"/staff/reports/{report_id}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
