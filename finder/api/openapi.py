"""The OpenAPI 3.1 document of ``/api/v1`` and ``/locator``, built from the same parameter
declarations that parse requests, so the two cannot drift apart."""

from __future__ import annotations

from finder.api.findtreatment import LOCATOR_PARAMS
from finder.api.params import Param
from finder.api.queries import FACILITY_SEARCH_PARAMS, POINT_PARAMS


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict, optional: tuple[str, ...] = ()) -> dict:
    """A closed object: every listed property present (unless optional), no others."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


def _nullable(kind: str, **extra) -> dict:
    return {"type": [kind, "null"], **extra}


STRING, NUMBER, INTEGER, BOOLEAN = (
    {"type": "string"}, {"type": "number"}, {"type": "integer"}, {"type": "boolean"}
)

SCHEMAS: dict[str, dict] = {
    "Error": _object({
        "error": _object({
            "status": INTEGER,
            "message": STRING,
            "parameter": {**STRING, "description": "The query parameter to fix."},
            "suggestions": {"type": "array", "items": STRING,
                            "description": "Places the geocoder suggests instead."},
            "codes": {"type": "array", "items": STRING,
                      "description": "The unknown service codes."},
        }, optional=("parameter", "suggestions", "codes")),
    }),
    "Place": _object({
        "label": STRING,
        "latitude": NUMBER,
        "longitude": NUMBER,
        "precision": {"type": "string", "enum": ["coordinates", "address", "zip", "city"]},
        "approximate": {**BOOLEAN,
                        "description": "A street address resolved to a ZIP or city centre."},
        "state": _nullable("string"),
        "zip": _nullable("string"),
    }),
    "FacilityService": _object({"code": STRING, "label": STRING, "category": STRING}),
    "Facility": _object({
        "id": INTEGER,
        "slug": STRING,
        "name1": STRING,
        "name2": _nullable("string"),
        "street1": _nullable("string"),
        "street2": _nullable("string"),
        "city": STRING,
        "state": STRING,
        "zip": _nullable("string"),
        "county": _nullable("string"),
        "latitude": NUMBER,
        "longitude": NUMBER,
        "geo_precision": {"type": "string", "enum": ["rooftop", "zip", "city", "manual"]},
        "phone": _nullable("string", description="E.164, only where a real source gives one."),
        "intake_phone": _nullable("string", description="E.164."),
        "website": _nullable("string"),
        "status": {"type": "string", "enum": ["active", "closed"]},
        "data_source": STRING,
        "last_verified_on": _nullable("string", format="date"),
        "services": {"type": "array", "items": _ref("FacilityService"),
                     "description": "In the taxonomy's category order."},
        "distance_miles": _nullable("number", description="From the search centre, if any."),
        "url": {"type": "string", "format": "uri"},
    }),
    "FacilityList": _object({
        "place": _ref("Place"),
        "radius_miles": NUMBER,
        "total": {"type": "integer", "minimum": 0},
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1},
        "pages": {"type": "integer", "minimum": 0},
        "facilities": {"type": "array", "items": _ref("Facility")},
        "nearest_beyond": {"type": "array", "items": _ref("Facility"),
                           "description": "When nothing is within the radius: the nearest "
                                          "facilities beyond it."},
    }),
    "Service": _object({
        "code": STRING, "label": STRING, "plain_label": STRING, "confirmed": BOOLEAN,
    }),
    "ServiceCategory": _object({
        "code": STRING, "name": STRING, "plain_name": STRING,
        "services": {"type": "array", "items": _ref("Service")},
    }),
    "Taxonomy": _object({"categories": {"type": "array", "items": _ref("ServiceCategory")}}),
    "LocatorService": _object({
        "f1": {**STRING, "description": "Category name."},
        "f2": {**STRING, "description": "Category code."},
        "f3": {**STRING, "description": 'Service labels joined with "; ".'},
    }),
    "LocatorRow": _object({
        "_irow": {"type": "integer", "minimum": 1},
        "frid": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "name1": STRING,
        "name2": STRING,
        "street1": STRING,
        "city": STRING,
        "street2": STRING,
        "state": STRING,
        "zip": STRING,
        "phone": _nullable("string", example="434-979-8871"),
        "typeFacility": {"type": "string", "enum": ["SA"]},
        "intake1": _nullable("string"),
        "hotline1": {"type": "null"},
        "website": _nullable("string"),
        "latitude": STRING,
        "longitude": STRING,
        "miles": NUMBER,
        "services": {"type": "array", "items": _ref("LocatorService")},
    }),
    "LocatorPage": _object({
        "page": {"type": "integer", "minimum": 1},
        "totalPages": {"type": "integer", "minimum": 0},
        "recordCount": {"type": "integer", "minimum": 0},
        "rows": {"type": "array", "items": _ref("LocatorRow")},
    }),
}


def _json(schema_name: str, description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": _ref(schema_name)}}}


ERROR_400 = _json("Error", "A parameter is missing or invalid; error.parameter names it.")


def _get(summary: str, params: tuple[Param, ...], ok: dict, *extra_params: dict,
         not_found: bool = False) -> dict:
    responses = {"200": ok}
    if params:
        responses["400"] = ERROR_400
    if not_found:
        responses["404"] = _json("Error", "No such facility.")
    return {"get": {
        "summary": summary,
        "parameters": [*extra_params, *(param.openapi() for param in params)],
        "responses": responses,
    }}


def openapi_document() -> dict:
    """The document; built per request because limits such as per_page come from the config."""
    facility_id = {"name": "facility_id", "in": "path", "required": True,
                   "schema": {"type": "integer", "minimum": 0}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "finder open API",
            "version": "1.0.0",
            "description": "US substance-use treatment facilities, free to use. Also a "
                           "FindTreatment.gov-compatible /locator/exportsAsJson/v2.",
        },
        "paths": {
            "/api/v1/facilities": _get(
                "Facilities near a place, nearest first", FACILITY_SEARCH_PARAMS,
                _json("FacilityList", "One page of facilities."),
            ),
            "/api/v1/facilities/{facility_id}": _get(
                "One facility; with lat and lon, its distance from there", POINT_PARAMS,
                _json("Facility", "The facility."), facility_id, not_found=True,
            ),
            "/api/v1/services": _get(
                "The service taxonomy: categories and their services", (),
                _json("Taxonomy", "Every category, in display order."),
            ),
            "/api/v1/openapi.json": _get(
                "This document", (),
                {"description": "The OpenAPI document.",
                 "content": {"application/json": {"schema": {"type": "object"}}}},
            ),
            "/locator/exportsAsJson/v2": _get(
                "FindTreatment.gov-compatible search (developer guide v1.9)", LOCATOR_PARAMS,
                _json("LocatorPage", "One page of rows, in the locator's own shape."),
            ),
        },
        "components": {"schemas": SCHEMAS},
    }
