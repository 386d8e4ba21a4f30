"""Public pages: the search form, search results and facility pages."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, url_for

from finder.calls.numbers import number_for_facility, numbers_for_facilities
from finder.directory.filters import (
    PAYMENT_CATEGORY_CODES,
    facility_by_slug,
    filter_categories,
    group_services,
    services_by_code,
)
from finder.directory.params import (
    MAX_LOCATION_LENGTH,
    MAX_SERVICE_CODES,
    SearchParams,
    parse_search_args,
)
from finder.directory.search import SearchQuery, UnknownServiceCode, groups_by_category, search
from finder.extensions import db
from finder.geo import place as place_module
from finder.geo.distance import haversine_miles
from finder.geo.place import PlaceNotFound, locate, place_from_point

bp = Blueprint("directory", __name__)

DEFAULT_HINTS = ("Try a 5-digit ZIP code", "Try a city and state, like Austin, TX")
#: Only these arguments describe a search; anything else in a URL is not carried along.
SEARCH_ARG_NAMES = ("location", "lat", "lon", "radius", "service", "page")


def _radii() -> list[float]:
    return [float(r) for r in current_app.config["SEARCH_RADII_MILES"]]


def _parse(args) -> SearchParams | dict[str, str]:
    radii = _radii()
    return parse_search_args(
        args,
        radii=radii,
        max_radius=max(radii),
        default_radius=current_app.config["SEARCH_DEFAULT_RADIUS_MILES"],
        per_page=current_app.config["SEARCH_PER_PAGE"],
    )


def search_args(params: SearchParams, **changes) -> dict:
    """Query arguments that repeat a search (normalized), with ``changes`` applied."""
    args: dict = {}
    if params.has_point:
        args["lat"] = f"{params.latitude:.5f}"
        args["lon"] = f"{params.longitude:.5f}"
    else:
        args["location"] = params.location
    args["radius"] = f"{params.radius_miles:g}"
    args["service"] = list(params.service_codes)
    args["page"] = params.page
    args.update(changes)
    if args.get("page") == 1:
        del args["page"]
    return {name: value for name, value in args.items() if value not in (None, "", [])}


def _form_context(args, params: SearchParams | None, selected: tuple[str, ...] = ()) -> dict:
    """What the search form needs to show itself again, keeping what the visitor typed."""
    typed_location = " ".join(args.get("location", "").split())[:MAX_LOCATION_LENGTH]
    if params is not None and params.has_point:
        typed_location = ""
    radius = params.radius_miles if params else _radius_as_typed(args)
    categories = filter_categories()
    shown_codes = {s.code for c in categories for s in c.services}
    return {
        "location_value": typed_location,
        "radius": radius,
        "radii": _radii(),
        "categories": categories,
        "selected": set(selected),
        "hidden_codes": [code for code in selected if code not in shown_codes],
    }


def _radius_as_typed(args) -> float:
    try:
        value = float(args.get("radius", ""))
    except ValueError:
        value = None
    if value in _radii():
        return value
    return float(current_app.config["SEARCH_DEFAULT_RADIUS_MILES"])


@bp.get("/")
def home():
    context = _form_context(request.args, None)
    return render_template("directory/home.html", **context)


def _form_page(errors: dict[str, str], params: SearchParams | None, status: int):
    selected = params.service_codes if params else _typed_codes()
    context = _form_context(request.args, params, selected)
    return render_template("directory/home.html", errors=errors, **context), status


def _typed_codes() -> tuple[str, ...]:
    codes = []
    for value in request.args.getlist("service"):
        codes.extend(part.strip().upper() for part in value.split(",") if part.strip())
    return tuple(dict.fromkeys(codes))[:MAX_SERVICE_CODES]


@bp.get("/search")
def results():
    if not any(name in request.args for name in SEARCH_ARG_NAMES):
        return render_template("directory/home.html", **_form_context(request.args, None))
    params = _parse(request.args)
    if isinstance(params, dict):
        return _form_page(params, None, 400)
    try:
        groups = groups_by_category(db.session, params.service_codes)
    except UnknownServiceCode as error:
        codes = ", ".join(error.codes)
        message = f"We don't know the service code {codes}. Choose services from the list."
        return _form_page({"service": message}, params, 400)

    if params.has_point:
        try:
            place = place_from_point(params.latitude, params.longitude)
        except ValueError as error:
            return _form_page({"lat": str(error)}, params, 400)
    else:
        try:
            place = locate(params.location)
        except PlaceNotFound as error:
            context = _form_context(request.args, params, params.service_codes)
            places, hints = split_suggestions(error.suggestions)
            return render_template(
                "directory/not_found.html",
                not_found=error,
                params=params,
                place_suggestions=places,
                hints=hints or list(DEFAULT_HINTS),
                **context,
            )

    result = search(
        db.session,
        SearchQuery(
            latitude=place.latitude,
            longitude=place.longitude,
            radius_miles=params.radius_miles,
            service_groups=groups,
            page=params.page,
            per_page=params.per_page,
        ),
    )
    wider = [r for r in _radii() if r > params.radius_miles]
    labels = services_by_code(params.service_codes)
    shown = [hit.facility.id for hit in (*result.hits, *result.nearest_beyond)]
    return render_template(
        "directory/results.html",
        place=place,
        params=params,
        result=result,
        tracking_numbers=numbers_for_facilities(db.session, shown),
        search_args=search_args,
        facility_args=search_args(params),
        wider_radius=wider[0] if wider else None,
        active_filters=[(code, labels.get(code)) for code in params.service_codes],
        pages=page_numbers(params.page, result.pages),
        **_form_context(request.args, params, params.service_codes),
    )


def split_suggestions(suggestions: list[str]) -> tuple[list[str], list[str]]:
    """Places to link to, and advice ("Try a 5-digit ZIP code") to show as text."""
    advice = set(getattr(place_module, "GENERIC_HINTS", ())) | set(DEFAULT_HINTS)
    places = [s for s in suggestions if s not in advice and not s.startswith("Try ")]
    return places, [s for s in suggestions if s not in places]


def page_numbers(current: int, total: int, around: int = 2) -> list[int | None]:
    """Page links to show: first, last and a window around ``current``; None marks a gap."""
    if total <= 1:
        return []
    wanted = {1, total, *range(current - around, current + around + 1)}
    shown: list[int | None] = []
    for page in sorted(p for p in wanted if 1 <= p <= total):
        if shown and page - shown[-1] > 1:
            shown.append(None)
        shown.append(page)
    return shown


@bp.get("/facilities/<slug>")
def facility(slug: str):
    found = facility_by_slug(slug)
    if found is None:
        abort(404, "We couldn't find that facility. It may have moved to a new address.")
    groups = group_services(found.services)
    tracking = number_for_facility(db.session, found)
    context = {
        "facility": found,
        # A tracking number rings the facility's own line and no one else.
        "tracking_number": tracking.number if tracking else None,
        "service_groups": [g for g in groups if g.category.code not in PAYMENT_CATEGORY_CODES],
        "payment_groups": [g for g in groups if g.category.code in PAYMENT_CATEGORY_CODES],
        "directions_href": (
            "https://www.google.com/maps/dir/?api=1&destination="
            f"{found.latitude:.6f},{found.longitude:.6f}"
        ),
    }
    context.update(_searched_place(found))
    return render_template("directory/facility.html", **context)


def _searched_place(found) -> dict:
    """The place a visitor came from (the search arguments the results page passed along)."""
    if not any(name in request.args for name in ("location", "lat", "lon")):
        return {}
    params = _parse(request.args)
    if isinstance(params, dict):
        return {}
    try:
        if params.has_point:
            place = place_from_point(params.latitude, params.longitude)
        else:
            place = locate(params.location)
    except ValueError:  # PlaceNotFound too: the page is still useful without a distance
        return {}
    distance = haversine_miles(place.latitude, place.longitude, found.latitude, found.longitude)
    return {
        "place": place,
        "distance": distance,
        "back_href": url_for(".results", **search_args(params)),
    }
