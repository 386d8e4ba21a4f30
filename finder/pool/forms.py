"""Forms for pools and advertisers, and how a refused activation becomes field errors."""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FloatField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from finder.calls.eligibility import Reason
from finder.calls.pool import WEEKDAYS
from finder.geo.names import US_STATES
from finder.numbers.operations import NumberError, parse_number
from finder.pool.operations import ActivationRefused
from finder.typed_text import PlainText

STATE_CHOICES = [SelectChoice(code, f"{code} – {name}") for code, name in US_STATES.items()]
DAY_NAMES = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday",
             "fri": "Friday", "sat": "Saturday", "sun": "Sunday"}
#: Spans per day on the form (a split shift needs two).
SLOTS = (1, 2)
MIDNIGHT = time(0, 0)
#: Suggestions for the time-zone field (any IANA zone is accepted).
US_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
            "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico",
            "America/Detroit", "America/Indiana/Indianapolis", "America/Boise", "Pacific/Guam")


class PoolForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired("Enter a name."), Length(max=200),
                                           PlainText()])
    ask_for_zip = BooleanField("Ask callers to key in their ZIP code")
    max_attempts = IntegerField("Advertisers one call may try (1 to 10)", default=3,
                                validators=[InputRequired(), NumberRange(1, 10)])
    repeat_window_days = IntegerField(
        "Days a repeat caller goes back to the same advertiser", default=30,
        validators=[InputRequired(), NumberRange(0, 365)])
    min_answer_rate = FloatField("Minimum answer rate (0 to 1)", default=0.5,
                                 validators=[InputRequired(), NumberRange(0, 1)])
    submit = SubmitField("Save pool")

    def values(self) -> dict:
        return {"name": self.name.data.strip(), "ask_for_zip": bool(self.ask_for_zip.data),
                "max_attempts": self.max_attempts.data,
                "repeat_window_days": self.repeat_window_days.data,
                "min_answer_rate": float(self.min_answer_rate.data)}


def _text(label: str, length: int, required: bool = False):
    first = InputRequired(f"Enter the {label.lower()}.") if required else Optional()
    return StringField(label, validators=[first, Length(max=length), PlainText()])


def _cap(label: str):
    return IntegerField(label, validators=[Optional(), NumberRange(0, 1_000_000)])


def _date(label: str):
    return DateField(label, validators=[Optional()])


class AdvertiserForm(FlaskForm):
    pool_id = SelectField("Pool", choices=[], validators=[InputRequired("Choose a pool.")])
    facility = StringField("Linked facility (its id or slug; optional)",
                           validators=[Optional(), Length(max=200), PlainText()])
    name = _text("Name callers hear", 200, required=True)
    city = _text("City", 120, required=True)
    state = SelectField("State", choices=[SelectChoice("", "Choose a state"), *STATE_CHOICES],
                        validators=[InputRequired("Choose a state.")])
    phone = _text("Phone the calls ring", 40, required=True)
    tier = IntegerField("Tier (1 is tried first)", default=1,
                        validators=[InputRequired(), NumberRange(1, 99)])
    weight = IntegerField("Weight within its tier", default=1,
                          validators=[InputRequired(), NumberRange(1, 1000)])
    daily_cap = _cap("Calls per day (blank: no cap)")
    monthly_cap = _cap("Calls per month (blank: no cap)")
    concurrent_cap = _cap("Calls at once (blank: no cap)")
    timezone = StringField("Time zone of its hours (IANA, like America/Chicago)",
                           default="America/New_York",
                           validators=[InputRequired("Enter a time zone."), Length(max=64),
                                       PlainText()])
    states_served = SelectMultipleField("States whose callers it may take",
                                        choices=STATE_CHOICES,
                                        widget=ListWidget(prefix_label=False),
                                        option_widget=CheckboxInput())
    license_number = _text("State license number", 100)
    license_state = SelectField("License state", choices=[SelectChoice("", "None"), *STATE_CHOICES],
                                default="")
    license_expires_on = _date("License expires on")
    accreditation_body = _text("Accrediting body", 200)
    accreditation_expires_on = _date("Accreditation expires on")
    certification_id = _text("Advertising certification id", 100)
    certification_expires_on = _date("Certification expires on")
    contract_starts_on = _date("Contract starts on")
    contract_ends_on = _date("Contract ends on (blank: open-ended)")
    pricing_basis = _text("Pricing basis", 200)
    consent_to_be_named = BooleanField("It consents to be named to callers")
    active = BooleanField("Active (takes calls)")
    submit = SubmitField("Save advertiser")

    def set_pools(self, pools) -> None:
        self.pool_id.choices = [SelectChoice("", "Choose a pool"),
                                *(SelectChoice(str(p.id), p.name) for p in pools)]

    def hour_fields(self):
        """(day, day name, [(start field, end field) per slot]) for the weekly grid."""
        return [(day.value, DAY_NAMES[day.value],
                 [(self[f"{day.value}_start_{n}"], self[f"{day.value}_end_{n}"]) for n in SLOTS])
                for day in WEEKDAYS]

    def load_hours(self, hours: dict | None) -> None:
        for day, spans in (hours or {}).items():
            for n, (start, end) in zip(SLOTS, spans, strict=False):
                self[f"{day}_start_{n}"].data = time.fromisoformat(start)
                self[f"{day}_end_{n}"].data = time.fromisoformat(end)

    def validate_phone(self, field) -> None:
        # The same rule as tracking numbers: valid, no extension (calls are bridged straight to it).
        try:
            field.data = parse_number(field.data)
        except NumberError as error:
            raise ValidationError(str(error).replace("tracking number", "number")) from None

    def validate_timezone(self, field) -> None:
        try:
            ZoneInfo(field.data.strip())
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValidationError("That is not an IANA time zone; use one like "
                                  "America/Chicago.") from None
        field.data = field.data.strip()

    def validate_license_state(self, field) -> None:
        if (self.license_number.data or "").strip() and not field.data:
            raise ValidationError("Choose the state that issued the license.")

    def validate_contract_ends_on(self, field) -> None:
        start = self.contract_starts_on.data
        if field.data and start and field.data < start:
            raise ValidationError("The contract cannot end before it starts.")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for _day, name, slots in self.hour_fields():
            for start, end in slots:
                if (start.data is None) != (end.data is None) and not (start.errors
                                                                       or end.errors):
                    end.errors.append(f"{name}: give both a start and an end, or neither.")
                    valid = False
                elif start.data is not None and start.data == end.data != MIDNIGHT:
                    end.errors.append(f"{name}: start and end are the same. For around the "
                                      "clock use 00:00 to 00:00.")
                    valid = False
        return valid

    def hours(self) -> dict:
        """The weekly grid as the model stores it; an end not after its start runs overnight."""
        hours = {}
        for day, _name, slots in self.hour_fields():
            spans = [[start.data.strftime("%H:%M"), end.data.strftime("%H:%M")]
                     for start, end in slots if start.data is not None and end.data is not None]
            if spans:
                hours[day] = spans
        return hours

    def values(self, facility_id: int | None) -> dict:
        def text(field):
            return (field.data or "").strip() or None

        return {
            "pool_id": int(self.pool_id.data), "facility_id": facility_id,
            "name": self.name.data.strip(), "city": self.city.data.strip(),
            "state": self.state.data, "phone": self.phone.data, "tier": self.tier.data,
            "weight": self.weight.data, "daily_cap": self.daily_cap.data,
            "monthly_cap": self.monthly_cap.data, "concurrent_cap": self.concurrent_cap.data,
            "timezone": self.timezone.data, "hours": self.hours(),
            "states_served": sorted(set(self.states_served.data or ())),
            "license_number": text(self.license_number),
            "license_state": self.license_state.data or None,
            "license_expires_on": self.license_expires_on.data,
            "accreditation_body": text(self.accreditation_body),
            "accreditation_expires_on": self.accreditation_expires_on.data,
            "certification_id": text(self.certification_id),
            "certification_expires_on": self.certification_expires_on.data,
            "contract_starts_on": self.contract_starts_on.data,
            "contract_ends_on": self.contract_ends_on.data,
            "pricing_basis": text(self.pricing_basis),
            "consent_to_be_named": bool(self.consent_to_be_named.data),
            "active": bool(self.active.data),
        }


for _day in WEEKDAYS:
    for _n in SLOTS:
        setattr(AdvertiserForm, f"{_day.value}_start_{_n}",
                TimeField(f"{DAY_NAMES[_day.value]} from ({_n})", format=["%H:%M", "%H:%M:%S"],
                          validators=[Optional()]))
        setattr(AdvertiserForm, f"{_day.value}_end_{_n}",
                TimeField(f"{DAY_NAMES[_day.value]} until ({_n})", format=["%H:%M", "%H:%M:%S"],
                          validators=[Optional()]))

_CREDENTIALS = {
    "license": ("license_number", "license_expires_on", "state license"),
    "accreditation": ("accreditation_body", "accreditation_expires_on", "accreditation"),
    "certification": ("certification_id", "certification_expires_on",
                      "advertising certification"),
}


def explain_refusal(form: AdvertiserForm, refusal: ActivationRefused) -> None:
    """Put each reason routing gives on the field that would fix it, and sum up on ``active``."""
    today = refusal.today
    said = []
    for reason in refusal.reasons:
        kind = reason.value.split("_")[0]
        if kind in _CREDENTIALS:
            id_field, date_field, what = _CREDENTIALS[kind]
            if reason.value.endswith("_expired"):
                expired_on = form[date_field].data
                form[date_field].errors.append(
                    f"The {what} expired on {expired_on:%Y-%m-%d}: an advertiser with an "
                    f"expired {what} cannot be active.")
                said.append(f"the {what} has expired")
                continue
            if not (form[id_field].data or "").strip():
                form[id_field].errors.append(f"Required to be active: enter the {what}.")
            if form[date_field].data is None:
                form[date_field].errors.append(
                    f"Required to be active: enter when the {what} expires.")
            said.append(f"the {what} is missing")
        elif reason == Reason.CONTRACT_NOT_CURRENT:
            start, end = form.contract_starts_on.data, form.contract_ends_on.data
            if start is None:
                form.contract_starts_on.errors.append("Required to be active: enter when the "
                                                      "contract starts.")
            elif start > today:
                form.contract_starts_on.errors.append(
                    f"The contract only starts on {start:%Y-%m-%d}: it is not current yet.")
            if end is not None and end < today:
                form.contract_ends_on.errors.append(
                    f"The contract ended on {end:%Y-%m-%d}: it is not current.")
            said.append("the contract is not current")
        elif reason == Reason.NO_CONSENT_TO_BE_NAMED:
            form.consent_to_be_named.errors.append(
                "Required to be active: callers are told who answers, so the advertiser must "
                "consent to be named.")
            said.append("it has not consented to be named")
        else:
            said.append(str(reason))
    form.active.errors.append(f"Cannot be active on {today:%Y-%m-%d}: " + "; ".join(said) + ".")
