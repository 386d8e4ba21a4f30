"""The open JSON API, ``/api/v1``: facility search, one facility, the service taxonomy."""

from flask import Blueprint, request
from sqlalchemy.orm import selectinload

from finder.api import errors, responses
from finder.api.errors import ApiError
from finder.api.openapi import openapi_document
from finder.api.queries import facility_search, optional_point
from finder.api.responses import json_response
from finder.api.serializers import facility_json, place_json, taxonomy_json
from finder.directory.models import Facility, Service
from finder.directory.search import search
from finder.extensions import db
from finder.geo.distance import haversine_miles

bp = Blueprint("api", __name__, url_prefix="/api/v1")
errors.install(bp)
responses.install(bp)

#: Facility ids are 32-bit integers; a longer number cannot name one (and would overflow SQL).
MAX_FACILITY_ID = 2**31 - 1


@bp.get("/facilities")
def facilities():
    wanted = facility_search(db.session, request.args)
    result = search(db.session, wanted.query)
    return json_response({
        "place": place_json(wanted.place),
        "radius_miles": wanted.query.radius_miles,
        "total": result.total,
        "page": wanted.query.page,
        "per_page": wanted.query.per_page,
        "pages": result.pages,
        "facilities": [facility_json(hit.facility, hit.distance_miles) for hit in result.hits],
        "nearest_beyond": [
            facility_json(hit.facility, hit.distance_miles) for hit in result.nearest_beyond
        ],
    })


@bp.get("/facilities/<int:facility_id>")
def facility(facility_id: int):
    point = optional_point(request.args)
    found = None
    if facility_id <= MAX_FACILITY_ID:
        found = db.session.get(
            Facility,
            facility_id,
            options=[selectinload(Facility.services).selectinload(Service.category)],
        )
    if found is None:
        raise ApiError(f"No facility has id {facility_id}.", status=404)
    distance = (
        haversine_miles(point[0], point[1], found.latitude, found.longitude) if point else None
    )
    return json_response(facility_json(found, distance))


@bp.get("/services")
def services():
    return json_response({"categories": taxonomy_json(db.session)})


@bp.get("/openapi.json")
def openapi():
    return json_response(openapi_document())
