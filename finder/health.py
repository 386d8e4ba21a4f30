"""``GET /healthz`` for load balancers and monitors: 200 when the database answers, else 503.

Public and unauthenticated, so it says nothing but "ok" or "unavailable": no error text, no
database name, no version. The reason for a 503 goes to the log instead.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, jsonify

from finder.extensions import db

bp = Blueprint("health", __name__)
logger = logging.getLogger(__name__)


def database_answers() -> bool:
    try:
        db.session.execute(sa.text("SELECT 1")).scalar_one()
        return True
    except Exception as error:  # noqa: BLE001 - any failure means "not healthy"
        # The class name only: a driver's message can carry the host and database name.
        logger.warning("Health check: the database did not answer (%s)", type(error).__name__)
        return False
    finally:
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - a dead connection may refuse even this
            db.session.close()


@bp.get("/healthz")
def healthz():
    healthy = database_answers()
    response = jsonify({"status": "ok" if healthy else "unavailable"})
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
