"""Staff imports and exports: the upload form with its report, and the export downloads."""

from __future__ import annotations

import tempfile
from datetime import date

from flask import (
    Blueprint,
    Response,
    render_template,
    send_file,
    stream_with_context,
)
from flask_login import current_user
from werkzeug.utils import secure_filename

from finder.accounts.roles import protect_blueprint
from finder.extensions import db
from finder.staff import navigation
from finder.transfer.exports import csv_chunks, load_directory
from finder.transfer.forms import ImportForm
from finder.transfer.hsds_files import json_chunks, write_zip
from finder.transfer.imports import ImportFileError, run_import

bp = Blueprint("transfer", __name__, url_prefix="/staff/transfer")
protect_blueprint(bp)
navigation.add_link("transfer.index", "Imports and exports")

UPLOAD_NAME_LENGTH = 120


@bp.get("/")
def index():
    return render_template("transfer/index.html", form=ImportForm())


@bp.post("/import")
def upload():
    # This view takes files up to IMPORT_MAX_BYTES (finder/request_limits.py raises the limit
    # before the CSRF check reads the body).
    form = ImportForm()
    if not form.validate_on_submit():
        return render_template("transfer/index.html", form=form), 400
    upload_file = form.file.data
    name = secure_filename(upload_file.filename or "")[:UPLOAD_NAME_LENGTH] or "upload"
    try:
        report = run_import(db.session, form.kind.data, upload_file.read(), name,
                            dry_run=form.dry_run.data, actor=current_user)
    except ImportFileError as exc:
        db.session.rollback()
        form.file.errors.append(str(exc))
        return render_template("transfer/index.html", form=form), 400
    except Exception:
        db.session.rollback()
        raise
    if report.dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return render_template("transfer/report.html", report=report, form=ImportForm(formdata=None))



def _attachment(extension: str) -> dict[str, str]:
    name = f"finder-directory-{date.today().isoformat()}{extension}"
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@bp.get("/export.csv")
def export_csv():
    chunks = csv_chunks(load_directory(db.session))
    return Response(stream_with_context(chunks), mimetype="text/csv",
                    headers=_attachment(".csv"))


@bp.get("/export-hsds.json")
def export_hsds_json():
    chunks = json_chunks(load_directory(db.session))
    return Response(stream_with_context(chunks), mimetype="application/json",
                    headers=_attachment("-hsds.json"))


@bp.get("/export-hsds.zip")
def export_hsds_zip():
    # A zip's directory comes last, so it is built in a temporary file, then streamed from it.
    spool = tempfile.TemporaryFile()
    write_zip(load_directory(db.session), spool)
    spool.seek(0)
    name = f"finder-directory-{date.today().isoformat()}-hsds.zip"
    return send_file(spool, mimetype="application/zip", as_attachment=True, download_name=name)
