"""Staff pages for listings: the list, create, edit, services, verify, close and reopen.

Operators may read every page; only admins may submit (``protect_blueprint``).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from finder.accounts.roles import protect_blueprint
from finder.directory.filters import group_services
from finder.directory.models import (
    Facility,
    FacilityStatus,
    FacilityVerification,
    GeoPrecision,
    ServiceCategory,
)
from finder.extensions import db
from finder.listings.forms import ActionForm, FacilityForm, ListFilterForm, ServicesForm
from finder.listings.operations import (
    GeocodingFailed,
    ListingError,
    close_facility,
    create_facility,
    find_facilities,
    mark_verified,
    reopen_facility,
    service_codes,
    set_services,
    update_facility,
)
from finder.staff import navigation

bp = Blueprint("listings", __name__, url_prefix="/staff/facilities")
protect_blueprint(bp)
navigation.add_link("listings.index", "Listings")

PRECISION_LABELS = {
    GeoPrecision.ROOFTOP: "Geocoded street address (from the data source)",
    GeoPrecision.ZIP: "Approximate: the centre of the ZIP code",
    GeoPrecision.CITY: "Approximate: the centre of the city",
    GeoPrecision.MANUAL: "Placed by hand by staff",
}


def _actor():
    return current_user._get_current_object()


def _facility_or_404(facility_id: int) -> Facility:
    facility = db.session.get(Facility, facility_id)
    if facility is None:
        abort(404, "There is no listing with that number.")
    return facility


@bp.get("/")
def index():
    form = ListFilterForm(request.args)
    if not form.validate():
        return render_template("listings/index.html", form=form, page=None), 400
    status = FacilityStatus(form.status.data) if form.status.data else None
    page = find_facilities(db.session, text=form.q.data, state=form.state.data or None,
                           status=status, page=form.page_number())
    args = {name: value for name, value in (("q", form.q.data), ("state", form.state.data),
                                            ("status", form.status.data)) if value}
    return render_template("listings/index.html", form=form, page=page, args=args)


@bp.route("/new", methods=["GET", "POST"])
def create():
    form = FacilityForm()
    if form.validate_on_submit():
        try:
            facility = create_facility(db.session, form.listing_data(), actor=_actor())
        except GeocodingFailed as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            flash(f"Created the listing {facility.name1}. "
                  f"Map location: {PRECISION_LABELS[facility.geo_precision]}.")
            return redirect(url_for(".edit", facility_id=facility.id), 303)
    status = 400 if form.is_submitted() else 200
    return render_template("listings/new.html", form=form), status


def _edit_page(facility: Facility, *, form=None, verify_form=None, status_form=None,
               status: int = 200):
    verifications = db.session.execute(
        select(FacilityVerification).where(FacilityVerification.facility_id == facility.id)
        .order_by(FacilityVerification.verified_on.desc(), FacilityVerification.id.desc())
        .limit(10)
    ).scalars().all()
    context = {
        "facility": facility,
        "form": form or FacilityForm.for_facility(facility, use_request=False),
        "verify_form": verify_form or ActionForm(prefix="verify", formdata=None),
        "status_form": status_form or ActionForm(prefix="status", formdata=None),
        "precision_label": PRECISION_LABELS.get(facility.geo_precision, ""),
        "service_groups": group_services(facility.services),
        "verifications": verifications,
    }
    return render_template("listings/edit.html", **context), status


@bp.route("/<int:facility_id>", methods=["GET", "POST"])
def edit(facility_id: int):
    facility = _facility_or_404(facility_id)
    form = FacilityForm.for_facility(facility)
    if form.validate_on_submit():
        try:
            changes = update_facility(db.session, facility, form.listing_data(), actor=_actor())
        except GeocodingFailed as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            if changes:
                flash(f"Saved: {', '.join(changes)}.")
            else:
                flash("Nothing changed.")
            return redirect(url_for(".edit", facility_id=facility.id), 303)
    return _edit_page(facility, form=form, status=400 if form.is_submitted() else 200)


def _categories() -> list[ServiceCategory]:
    return list(db.session.execute(
        select(ServiceCategory)
        .options(selectinload(ServiceCategory.services))
        .order_by(ServiceCategory.position, ServiceCategory.code)
    ).scalars())


@bp.route("/<int:facility_id>/services", methods=["GET", "POST"])
def services(facility_id: int):
    facility = _facility_or_404(facility_id)
    categories = _categories()
    form = ServicesForm(categories, data={"services": service_codes(facility)})
    if form.validate_on_submit():
        try:
            changed = set_services(db.session, facility, form.services.data, actor=_actor())
        except ListingError as error:
            db.session.rollback()
            form.services.errors.append(str(error))
        else:
            db.session.commit()
            flash("Services saved." if changed else "Services unchanged.")
            return redirect(url_for(".edit", facility_id=facility.id), 303)
    status = 400 if form.is_submitted() else 200
    selected = set(form.services.data or ())
    return render_template("listings/services.html", facility=facility, form=form,
                           categories=categories, selected=selected), status


def _action(facility_id: int, prefix: str, operation, done: str):
    facility = _facility_or_404(facility_id)
    form = ActionForm(prefix=prefix)
    if not form.validate_on_submit():
        forms = {"verify_form" if prefix == "verify" else "status_form": form}
        return _edit_page(facility, status=400, **forms)
    try:
        operation(db.session, facility, actor=_actor(), note=form.note.data)
    except ListingError as error:
        db.session.rollback()
        flash(str(error))
    else:
        db.session.commit()
        flash(done.format(name=facility.name1))
    return redirect(url_for(".edit", facility_id=facility.id), 303)


@bp.post("/<int:facility_id>/verify")
def verify(facility_id: int):
    return _action(facility_id, "verify", mark_verified, "Marked {name} verified today.")


@bp.post("/<int:facility_id>/close")
def close(facility_id: int):
    return _action(facility_id, "status", close_facility,
                   "Closed {name}. It stays listed, marked closed.")


@bp.post("/<int:facility_id>/reopen")
def reopen(facility_id: int):
    return _action(facility_id, "status", reopen_facility, "Reopened {name}.")

