"""Forms for tracking numbers: the number, and who it rings (one facility or one pool)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from finder.numbers.operations import NumberError, parse_number
from finder.typed_text import PlainText

KIND_CHOICES = [
    SelectChoice("facility", "One facility's own phone (facility number)"),
    SelectChoice("helpline", "A pool of advertisers (helpline number)"),
]
NO_POOL = SelectChoice("", "Choose a pool")


class OwnerForm(FlaskForm):
    """Who a number rings; used to move or re-activate a number."""

    kind = RadioField("The number rings", choices=KIND_CHOICES, default="facility",
                      validators=[InputRequired("Choose what the number rings.")])
    facility = StringField("Facility id or slug",
                           validators=[Optional(), Length(max=200), PlainText()])
    pool_id = SelectField("Pool", choices=[NO_POOL], default="")
    submit = SubmitField("Save")

    def set_pools(self, pools) -> None:
        self.pool_id.choices = [NO_POOL] + [SelectChoice(str(p.id), p.name) for p in pools]

    def validate_facility(self, field) -> None:
        if self.kind.data == "facility" and not (field.data or "").strip():
            raise ValidationError("Choose the facility this number rings.")

    def validate_pool_id(self, field) -> None:
        if self.kind.data == "helpline" and not field.data:
            raise ValidationError("Choose the pool whose advertisers answer this number.")


class AssignForm(OwnerForm):
    number = StringField("Tracking number", validators=[InputRequired("Enter the number."),
                                                        Length(max=40), PlainText()])
    label = StringField("Label (optional, for staff)",
                        validators=[Optional(), Length(max=200), PlainText()])
    submit = SubmitField("Assign number")

    def validate_number(self, field) -> None:
        try:
            field.data = parse_number(field.data)
        except NumberError as error:
            raise ValidationError(str(error)) from None


class ConfirmForm(FlaskForm):
    """A one-button form (retire a number, deactivate an advertiser): only its CSRF token."""

    submit = SubmitField("Retire")
