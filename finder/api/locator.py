"""FindTreatment.gov-compatible ``/locator/exportsAsJson/v2``, for clients of SAMHSA's API."""

from flask import Blueprint, request

from finder.api import errors, responses
from finder.api.findtreatment import locator_search
from finder.api.responses import json_response
from finder.api.serializers import locator_row
from finder.directory.search import search
from finder.extensions import db

bp = Blueprint("locator", __name__, url_prefix="/locator")
errors.install(bp)
responses.install(bp)


@bp.get("/exportsAsJson/v2")
def exports_as_json():
    wanted = locator_search(db.session, request.args)
    if wanted.query is None:
        return json_response({"page": wanted.page, "totalPages": 0, "recordCount": 0, "rows": []})
    result = search(db.session, wanted.query)
    return json_response({
        "page": wanted.page,
        "totalPages": result.pages,
        "recordCount": result.total,
        "rows": [
            locator_row(index, hit.facility, hit.distance_miles)
            for index, hit in enumerate(result.hits, start=1)
        ],
    })
