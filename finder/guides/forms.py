"""The admin's guide form, the visitor's comment form, and the moderation form."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from finder.guides.models import GuideStatus
from finder.typed_text import PlainText

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
SLUG_MAX_LENGTH = 120
BODY_MAX_LENGTH = 50_000
MAX_RELATED_SERVICES = 30
COMMENT_NAME_MAX_LENGTH = 80
COMMENT_MAX_LENGTH = 2000
_CODE = re.compile(r"^[A-Z0-9]{1,16}$")


def _text(value):
    """Trimmed, with browsers' CRLF line ends as LF (so the length matches what they count)."""
    return value.replace("\r\n", "\n").strip() if isinstance(value, str) else value


def _line(value):
    return " ".join(value.split()) if isinstance(value, str) else value


def _blank_to_none(value):
    value = _line(value)
    return value or None


def split_codes(value) -> list[str]:
    """``"bdtx, DT  adtx"`` → ``["BDTX", "DT", "ADTX"]`` (upper case, in order, no repeats)."""
    if isinstance(value, list | tuple):
        value = " ".join(value)
    parts = re.split(r"[\s,;]+", (value or "").strip().upper())
    return list(dict.fromkeys(part for part in parts if part))


class CodeList(StringField):
    """Service codes typed as text; ``data`` is a list of codes."""

    def _value(self):
        if isinstance(self.data, list | tuple):
            return ", ".join(self.data)
        return self.data or ""

    def process_formdata(self, valuelist):
        self.data = split_codes(valuelist[0] if valuelist else "")


def _codes_look_right(form, field):
    bad = [code for code in field.data or [] if not _CODE.match(code)]
    if bad:
        raise ValidationError(f"Not a service code: {', '.join(bad)}.")
    if len(field.data or []) > MAX_RELATED_SERVICES:
        raise ValidationError(f"Choose at most {MAX_RELATED_SERVICES} codes.")


class GuideForm(FlaskForm):
    title = StringField("Title", filters=[_line],
                        validators=[DataRequired("Give the guide a title."), Length(max=200),
                                    PlainText()])
    slug = StringField(
        "Address (slug)", filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[
            DataRequired("Give the guide an address, like benzodiazepines."),
            Length(max=SLUG_MAX_LENGTH),
            Regexp(SLUG_PATTERN, message="Use lowercase letters, digits and single hyphens, "
                   "like opioids-and-medications."),
        ],
    )
    summary = TextAreaField("Summary", filters=[_line],
                            validators=[DataRequired("Write a one- or two-sentence summary."),
                                        Length(max=500), PlainText()])
    body = TextAreaField("Body (Markdown)", filters=[_text],
                         validators=[DataRequired("Write the guide."),
                                     Length(max=BODY_MAX_LENGTH), PlainText()])
    status = SelectField("Status",
                         choices=[SelectChoice(GuideStatus.DRAFT.value, "Draft (not public)"),
                                  SelectChoice(GuideStatus.PUBLISHED.value, "Published")],
                         default=GuideStatus.DRAFT.value)
    last_reviewed_on = DateField("Last reviewed on", validators=[Optional()])
    related_services = CodeList("Related service codes", validators=[_codes_look_right])


class CommentForm(FlaskForm):
    display_name = StringField(
        "Your name (optional)", filters=[_blank_to_none],
        validators=[Optional(), Length(max=COMMENT_NAME_MAX_LENGTH,
                                       message=f"Keep it under {COMMENT_NAME_MAX_LENGTH} "
                                       "characters."), PlainText()],
    )
    body = TextAreaField(
        "Your comment", filters=[_text],
        validators=[DataRequired("Write a comment."),
                    Length(max=COMMENT_MAX_LENGTH,
                           message=f"Keep it under {COMMENT_MAX_LENGTH:,} characters."),
                    PlainText()],
    )
    #: The honeypot: hidden from people by CSS, filled in by form-filling bots.
    website = StringField("Leave this field empty")


class ModerationForm(FlaskForm):
    """Only the CSRF token: the decision is in the URL."""
