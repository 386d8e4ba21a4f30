"""The dashboard's GET forms: call log filters, the report period, and the what-if question.

They change nothing, so they are plain WTForms forms without a CSRF token (like the change log
filters). Choices are set from the database by the view; a value outside them is a form error.
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import date

from wtforms import DateField, DateTimeLocalField, Form, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, Regexp, ValidationError

from finder.geo.names import US_STATES
from finder.operations.period import Period
from finder.operations.queries import DESTINATION_KINDS, KINDS, UNKNOWN_STATE, CallFilter

#: What ``finder.calls.flow`` records as a call's outcome (others found in the data are added).
KNOWN_OUTCOMES = (
    "routed_facility", "routed_advertiser", "routed_samhsa", "connected_facility",
    "connected_advertiser", "connected_samhsa", "caller_hung_up", "facility_unanswered",
    "samhsa_unanswered", "facility_no_phone", "unknown_number", "callback_requested",
    "callback_impossible", "samhsa_no_choice",
)
#: The longest report period, so one request cannot ask for years of rows.
MAX_REPORT_DAYS = 731
STATE_CHOICES = [SelectChoice(code, f"{code} ({name})") for code, name in sorted(US_STATES.items())]
ANY = SelectChoice("", "Any")
FIRST_YEAR, LAST_YEAR = 2000, 2199


@functools.cache
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _sane_date(form, field) -> None:
    """Years far outside finder's life would overflow date arithmetic: refuse them."""
    if field.data and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
        raise ValidationError(f"Enter a date between {FIRST_YEAR} and {LAST_YEAR}.")


def _until_after_since(form, field) -> None:
    if field.data and form.since.data and field.data < form.since.data:
        raise ValidationError("The end date is before the start date.")


class LogFilterForm(Form):
    since = DateField("From (UTC day)", validators=[Optional(), _sane_date])
    until = DateField("Until (UTC day, included)",
                      validators=[Optional(), _sane_date, _until_after_since])
    number = SelectField("Tracking number", choices=[ANY], default="")
    kind = SelectField("Number kind", default="", choices=[ANY] + [
        SelectChoice(kind, "unknown number" if kind == "unknown" else kind) for kind in KINDS])
    destination = SelectField("Destination (any leg)", choices=[ANY], default="")
    outcome = SelectField("Outcome", choices=[ANY], default="")
    state = SelectField("Caller state", default="", choices=[
        ANY, SelectChoice(UNKNOWN_STATE, "unknown"), *STATE_CHOICES])

    def set_choices(self, numbers, advertisers, outcomes) -> None:
        self.number.choices = [ANY] + [
            SelectChoice(str(n.id), f"{n.number} ({n.kind}{', retired' if n.retired_at else ''})")
            for n in numbers]
        self.destination.choices = [ANY] + [
            SelectChoice(kind, f"any {kind}" if kind == "advertiser" else kind)
            for kind in DESTINATION_KINDS
        ] + [SelectChoice(f"advertiser:{a.id}", f"advertiser: {a.name}") for a in advertisers]
        self.outcome.choices = [ANY] + [
            SelectChoice(o, o.replace("_", " ")) for o in sorted({*KNOWN_OUTCOMES, *outcomes})]

    def to_filter(self) -> CallFilter:
        destination = self.destination.data or None
        advertiser_id = None
        if destination and destination.startswith("advertiser:"):
            advertiser_id, destination = int(destination.partition(":")[2]), None
        return CallFilter(
            since=self.since.data, until=self.until.data,
            number_id=int(self.number.data) if self.number.data else None,
            kind=self.kind.data or None, destination=destination, advertiser_id=advertiser_id,
            outcome=self.outcome.data or None, caller_state=self.state.data or None)


class ReportForm(Form):
    """The report's days; the last 30 days up to ``today`` (UTC) for what is left out."""

    since = DateField("From (UTC day)", validators=[Optional(), _sane_date])
    until = DateField("Until (UTC day, included)",
                      validators=[Optional(), _sane_date, _until_after_since])

    def __init__(self, formdata, today: date):
        super().__init__(formdata)
        self.today = today

    def period(self) -> Period:
        until = self.until.data or max(self.today, self.since.data or self.today)
        return Period(self.since.data or Period.ending(until).since, until)

    def validate_since(self, field) -> None:
        if field.data and self.period().days > MAX_REPORT_DAYS:
            raise ValidationError(f"A report covers at most {MAX_REPORT_DAYS} days.")


class WhatIfForm(Form):
    number = SelectField("Tracking number called", choices=[])
    state = SelectField("Caller's state", default="", choices=[
        SelectChoice("", "Not known"), *STATE_CHOICES])
    zip = StringField("or the ZIP code the caller keys in", validators=[
        Optional(), Length(max=5), Regexp(r"^\d{5}$", message="Enter a 5-digit ZIP code.")])
    at = DateTimeLocalField("When (leave empty for now)", format=["%Y-%m-%dT%H:%M",
                                                                   "%Y-%m-%dT%H:%M:%S"],
                            validators=[Optional(), _sane_date])
    #: Left empty (or blank) it is UTC: Optional() ends the checks then, so the filter decides.
    zone = StringField("Time zone of that time (IANA name)", default="UTC",
                       filters=[lambda value: (value or "").strip() or "UTC"],
                       validators=[Optional(), Length(max=64)])

    def set_numbers(self, numbers) -> None:
        self.number.choices = [
            SelectChoice(n.number, f"{n.number} ({n.kind}: "
                         f"{n.facility.name1 if n.facility else 'pool ' + n.pool.name})")
            for n in numbers]

    def validate_zone(self, field) -> None:
        field.data = (field.data or "").strip() or "UTC"
        if field.data not in time_zones():
            raise ValidationError("Enter an IANA time zone such as America/Chicago or UTC.")
