"""The public "report a problem" form and the admin's decision form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional

from finder.listings.forms import Normalized
from finder.listings.validators import parse_phone, parse_website
from finder.typed_text import PlainText

MESSAGE_MAX_LENGTH = 2000
PROBLEM_CHOICES = [
    ("phone", "The phone number is wrong"),
    ("address", "The address is wrong"),
    ("website", "The website is wrong"),
    ("closed", "The facility has closed"),
    ("services", "The services listed are wrong"),
    ("other", "Something else"),
]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _text(value):
    """Trimmed, with browsers' CRLF line ends as LF (so the length matches what they count)."""
    return value.replace("\r\n", "\n").strip() if isinstance(value, str) else value


def _blank_to_none(value):
    return _strip(value) or None


class ReportForm(FlaskForm):
    problem = SelectField("What is wrong?",
                          choices=[SelectChoice("", "Choose one"),
                                   *(SelectChoice(v, label) for v, label in PROBLEM_CHOICES)],
                          validators=[DataRequired("Choose what is wrong with the listing.")])
    message = TextAreaField(
        "Tell us what you found",
        filters=[_text],
        validators=[
            DataRequired("Tell us what is wrong, in a few words."),
            Length(max=MESSAGE_MAX_LENGTH,
                   message=f"Keep it under {MESSAGE_MAX_LENGTH:,} characters."),
            PlainText(),
        ],
    )
    suggested_phone = StringField("The right phone number (optional)",
                                  filters=[_blank_to_none],
                                  validators=[PlainText(), Normalized(parse_phone)])
    suggested_website = StringField("The right website (optional)", filters=[_blank_to_none],
                                    validators=[PlainText(), Normalized(parse_website)])
    email = EmailField(
        "Your email (optional, only if we may ask you a question)",
        filters=[_blank_to_none],
        validators=[Optional(), PlainText(), Email("Enter an email address like name@example.org."),
                    Length(max=254)],
    )
    #: The honeypot: hidden from people by CSS, filled in by form-filling bots.
    url = StringField("Leave this field empty")
    #: When the form was shown, signed (see finder.moderation.spamtrap).
    started = HiddenField()


class DecisionForm(FlaskForm):
    note = TextAreaField("Note (optional)", filters=[_blank_to_none],
                         validators=[Optional(), Length(max=500), PlainText()])
