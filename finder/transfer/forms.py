"""The staff import form: a file, what kind of file it is, and whether to only check it."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectChoice, SelectField, SubmitField

from finder.transfer.imports import KINDS


class ImportForm(FlaskForm):
    kind = SelectField(
        "Kind of file", choices=[SelectChoice(kind, label) for kind, label in KINDS.items()]
    )
    file = FileField("File", validators=[FileRequired("Choose a file to import.")])
    dry_run = BooleanField("Dry run: check every row and report, change nothing", default=True)
    submit = SubmitField("Import")
