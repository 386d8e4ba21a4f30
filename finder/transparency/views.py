"""The public "Where do calls go?" page, and the helpline numbers every public template can show."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, g, render_template

from finder.extensions import db
from finder.transparency.notice import build_notice, public_helpline_numbers

bp = Blueprint("transparency", __name__)


@bp.get("/where-do-calls-go")
def notice():
    config = current_app.config
    built = build_notice(
        db.session,
        now=datetime.now(UTC),
        callback_days=int(config["RETENTION_CALLBACK_DAYS"]),
        call_days=int(config["RETENTION_CALL_DAYS"]),
        forward_pool_name=config.get("FORWARD_POOL"),
        ring_seconds=int(config["CALL_RING_SECONDS"]),
    )
    return render_template("transparency/notice.html", notice=built)


@bp.app_context_processor
def _helpline_numbers():
    def helpline_numbers() -> list[str]:
        # Looked up only by the pages that show the helpline, once per request.
        if "helpline_numbers" not in g:
            g.helpline_numbers = public_helpline_numbers(db.session)
        return g.helpline_numbers

    return {"helpline_numbers": helpline_numbers}
