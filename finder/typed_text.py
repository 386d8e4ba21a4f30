"""What a text field may hold: anything a person types, but no control characters.

Tabs and line breaks are text; the other C0 controls (NUL above all) and DEL are not. A person
never types them, PostgreSQL refuses NUL in any text column (SQLite would quietly store it), and
XML (TwiML, HSDS exports) cannot carry the rest. Forms refuse them with a field error.
"""

from __future__ import annotations

import re

from wtforms.validators import StopValidation

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MESSAGE = "Remove the control characters (such as NUL) from this text."


def has_control_characters(value: object) -> bool:
    """True for a string (or a list of strings) holding a control character other than a tab,
    line feed or carriage return."""
    values = value if isinstance(value, list | tuple) else [value]
    return any(isinstance(item, str) and CONTROL_CHARACTERS.search(item) for item in values)


class PlainText:
    """WTForms validator: refuses control characters other than tabs and line breaks (and
    stops the field's other checks, whose messages would only confuse)."""

    def __init__(self, message: str = MESSAGE) -> None:
        self.message = message

    def __call__(self, form, field) -> None:
        if has_control_characters(field.data) or has_control_characters(field.raw_data):
            raise StopValidation(self.message)
