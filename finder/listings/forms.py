"""Listing forms: the facility form, the service checkboxes, actions, and the list filters."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    FloatField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from finder.directory.models import FacilityStatus, GeoPrecision
from finder.extensions import db
from finder.formatting import phone as phone_text
from finder.listings.operations import ListingData
from finder.listings.validators import (
    FACILITY_STATES,
    check_point,
    check_zip_in_state,
    parse_phone,
    parse_website,
    parse_zip,
)
from finder.paging import page_number
from finder.typed_text import PlainText

STATE_CHOICES = [SelectChoice("", "Choose a state")] + [
    SelectChoice(code, f"{name} ({code})")
    for code, name in sorted(FACILITY_STATES.items(), key=lambda item: item[1])
]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _blank_to_none(value):
    value = _strip(value)
    return value or None


class Normalized:
    """A validator running ``parse`` (which raises ValueError with the message) and keeping
    the normalized value in ``field.data``."""

    def __init__(self, parse):
        self.parse = parse

    def __call__(self, form, field: Field) -> None:
        try:
            field.data = self.parse(field.data)
        except ValueError as error:
            raise ValidationError(str(error)) from None


class CoordinateField(FloatField):
    """A number, or None when left empty (the "placed by hand" check decides if it is needed)."""

    def process_formdata(self, valuelist):
        if valuelist and not str(valuelist[0]).strip():
            self.data = None
            return
        super().process_formdata(valuelist)


class FacilityForm(FlaskForm):
    name1 = StringField("Name", filters=[_strip],
                        validators=[DataRequired("Enter the facility's name."), Length(max=300),
                                    PlainText()])
    name2 = StringField("Second name (optional)", filters=[_blank_to_none],
                        validators=[Optional(), Length(max=300), PlainText()])
    street1 = StringField("Street address", filters=[_strip],
                          validators=[DataRequired("Enter the street address."),
                                      Length(max=300), PlainText()])
    street2 = StringField("Address line 2 (optional)", filters=[_blank_to_none],
                          validators=[Optional(), Length(max=300), PlainText()])
    city = StringField("City", filters=[_strip],
                       validators=[DataRequired("Enter the city."), Length(max=120),
                                   PlainText()])
    state = SelectField("State", choices=STATE_CHOICES,
                        validators=[DataRequired("Choose the state.")])
    zip = StringField("ZIP code", filters=[_strip],
                      validators=[DataRequired("Enter the ZIP code.")])
    phone = StringField("Main phone (optional)", filters=[_blank_to_none],
                        validators=[PlainText(), Normalized(parse_phone)])
    intake_phone = StringField("Intake phone (optional)", filters=[_blank_to_none],
                               validators=[PlainText(), Normalized(parse_phone)])
    website = StringField("Website (optional)", filters=[_blank_to_none],
                          validators=[PlainText(), Normalized(parse_website)])
    notes = TextAreaField("Staff notes (optional, not shown to visitors)",
                          filters=[_blank_to_none],
                          validators=[Optional(), Length(max=5000), PlainText()])
    placed_by_hand = BooleanField("Placed by hand: use these coordinates instead of "
                                  "geocoding the address")
    latitude = CoordinateField("Latitude", invalid_value_message="Enter a number, like 38.0293.")
    longitude = CoordinateField("Longitude",
                                invalid_value_message="Enter a number, like -78.4767.")

    def validate_zip(self, field: Field) -> None:
        try:
            zip5, _ = parse_zip(field.data)
            if self.state.data in FACILITY_STATES:
                check_zip_in_state(db.session, zip5, self.state.data)
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def validate_latitude(self, field: Field) -> None:
        if not self.placed_by_hand.data or field.errors:
            return
        if field.data is None:
            raise ValidationError("Enter the latitude, or untick \"placed by hand\".")
        if self.longitude.data is None:
            return  # the longitude's own message says what is missing
        try:
            check_point(field.data, self.longitude.data, self.state.data or None)
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def validate_longitude(self, field: Field) -> None:
        if self.placed_by_hand.data and field.data is None and not field.errors:
            raise ValidationError("Enter the longitude, or untick \"placed by hand\".")

    @classmethod
    def for_facility(cls, facility, *, use_request: bool = True) -> FacilityForm:
        """The form filled from a listing (ZIP+4 shown as one entry); with ``use_request``
        false it ignores a submitted request (another form of the page was posted)."""
        form = cls(obj=facility) if use_request else cls(formdata=None, obj=facility)
        if not (use_request and form.is_submitted()):
            form.zip.data = (facility.zip or "") + (
                f"-{facility.zip4}" if facility.zip and facility.zip4 else "")
            form.placed_by_hand.data = facility.geo_precision == GeoPrecision.MANUAL
            # Shown as people write them; saved again as the same E.164.
            form.phone.data = phone_text(facility.phone) or None
            form.intake_phone.data = phone_text(facility.intake_phone) or None
        return form

    def listing_data(self) -> ListingData:
        zip5, zip4 = parse_zip(self.zip.data)
        manual = (self.latitude.data, self.longitude.data) if self.placed_by_hand.data else None
        return ListingData(
            name1=self.name1.data, name2=self.name2.data, street1=self.street1.data,
            street2=self.street2.data, city=self.city.data, state=self.state.data, zip=zip5,
            zip4=zip4, phone=self.phone.data, intake_phone=self.intake_phone.data,
            website=self.website.data, notes=self.notes.data, manual_point=manual,
        )


class ServicesForm(FlaskForm):
    """One checkbox per taxonomy code; the template groups them by category."""

    services = SelectMultipleField("Services", choices=[], validate_choice=True)

    def __init__(self, categories, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.categories = categories
        self.services.choices = [SelectChoice(s.code, s.plain_label)
                                for c in categories for s in c.services]
        if self.services.data is None:
            self.services.data = []


class ActionForm(FlaskForm):
    """Close, reopen, mark verified: a CSRF token and an optional note."""

    note = StringField("Note (optional)", filters=[_blank_to_none],
                       validators=[Optional(), Length(max=300), PlainText()])


STATUS_CHOICES = [SelectChoice("", "Any status")] + [
    SelectChoice(s.value, s.value.capitalize()) for s in FacilityStatus
]


class ListFilterForm(FlaskForm):
    """The list's search and filters, read from the query string (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField("Name, city or ZIP", filters=[_strip],
                    validators=[Length(max=200), PlainText()])
    state = SelectField("State", choices=[SelectChoice("", "Any state"), *STATE_CHOICES[1:]],
                        validators=[Optional()])
    status = SelectField("Status", choices=STATUS_CHOICES, validators=[Optional()])
    page = StringField("Page", validators=[Optional()])

    def page_number(self) -> int:
        return page_number(self.page.data)
