"""Staff pages for tracking numbers: the list, assign, move, retire and re-activate."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from finder.accounts.roles import protect_blueprint
from finder.calls.models import TrackingNumber
from finder.calls.numbers import facility_line
from finder.db import now_utc
from finder.extensions import db
from finder.numbers import queries
from finder.numbers.forms import AssignForm, ConfirmForm, OwnerForm
from finder.numbers.operations import (
    NumberError,
    assign_number,
    find_facility,
    move_number,
    owner_of,
    reactivate_number,
    resolve_owner,
    retire_number,
    search_facilities,
)
from finder.paging import page_number
from finder.staff import navigation

bp = Blueprint("numbers_admin", __name__, url_prefix="/staff/numbers")
protect_blueprint(bp)
navigation.add_link("numbers_admin.index", "Tracking numbers")


def _actor():
    return current_user._get_current_object()


def _page_arg() -> int:
    return page_number(request.args.get("page"))


def _add_error(form, error: NumberError) -> None:
    name = error.field if error.field in form else ("number" if "number" in form else "kind")
    field = form[name]
    field.errors = [*field.errors, str(error)]


def _picker() -> dict:
    """The facility search under an owner form (a plain GET form: no script needed)."""
    query = (request.args.get("q") or "").strip()[:200]
    return {"q": query, "matches": search_facilities(db.session, query) if query else None,
            "facility_line": facility_line}


def _chosen_facility(form):
    return find_facility(db.session, form.facility.data) if form.facility.data else None


def _prefill(form) -> None:
    if request.method == "GET" and request.args.get("facility"):
        form.kind.data = "facility"
        form.facility.data = request.args["facility"][:200]


@bp.get("/")
def index():
    kind = request.args.get("kind") if request.args.get("kind") in queries.KINDS else ""
    status = request.args.get("status") if request.args.get("status") in queries.STATUSES else ""
    page = queries.number_page(db.session, now_utc(), kind=kind, status=status,
                               page=_page_arg())
    return render_template("numbers/index.html", page=page, kind=kind, status=status,
                           kinds=queries.KINDS, statuses=queries.STATUSES)


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = AssignForm()
    form.set_pools(queries.all_pools(db.session))
    _prefill(form)
    existing_id = None
    if form.validate_on_submit():
        try:
            owner = resolve_owner(db.session, form.kind.data, form.facility.data,
                                  form.pool_id.data)
            tracking = assign_number(db.session, actor=_actor(), number=form.number.data,
                                     owner=owner, label=form.label.data)
            db.session.commit()
        except NumberError as error:
            db.session.rollback()
            _add_error(form, error)
            existing_id = error.existing_id
        else:
            flash(f"{tracking.number} now rings {owner.describe()}.")
            return redirect(url_for(".detail", number_id=tracking.id))
    status = 400 if request.method == "POST" else 200
    return render_template("numbers/new.html", form=form, chosen=_chosen_facility(form),
                           existing_id=existing_id, **_picker()), status


def _tracking(number_id: int) -> TrackingNumber:
    return db.session.get(TrackingNumber, number_id) or abort(404)


def _detail(tracking: TrackingNumber, owner_form: OwnerForm | None = None, status: int = 200):
    if owner_form is None:
        owner_form = OwnerForm()
        current = owner_of(tracking)
        owner_form.kind.data = str(tracking.kind)
        owner_form.facility.data = str(current.facility.id) if current.facility else ""
        owner_form.pool_id.data = str(current.pool.id) if current.pool else ""
        _prefill(owner_form)
    owner_form.set_pools(queries.all_pools(db.session))
    owner_form.submit.label.text = "Re-activate" if tracking.retired_at else "Move"
    return render_template(
        "numbers/detail.html", tracking=tracking, owner_form=owner_form,
        retire_form=ConfirmForm(), rings=queries.rings(db.session, tracking, now_utc()),
        history=queries.history(db.session, tracking), chosen=_chosen_facility(owner_form),
        **_picker(),
    ), status


@bp.get("/<int:number_id>")
def detail(number_id: int):
    return _detail(_tracking(number_id))


def _change_owner(number_id: int, operation, done: str):
    tracking = _tracking(number_id)
    form = OwnerForm()
    form.set_pools(queries.all_pools(db.session))
    if form.validate_on_submit():
        try:
            owner = resolve_owner(db.session, form.kind.data, form.facility.data,
                                  form.pool_id.data)
            operation(db.session, actor=_actor(), tracking=tracking, owner=owner)
            db.session.commit()
        except NumberError as error:
            db.session.rollback()
            _add_error(form, error)
        else:
            flash(f"{tracking.number} {done} {owner.describe()}.")
            return redirect(url_for(".detail", number_id=tracking.id))
    return _detail(_tracking(number_id), form, 400)


@bp.post("/<int:number_id>/move")
def move(number_id: int):
    return _change_owner(number_id, move_number, "now rings")


@bp.post("/<int:number_id>/reactivate")
def reactivate(number_id: int):
    return _change_owner(number_id, reactivate_number, "is active again and rings")


@bp.post("/<int:number_id>/retire")
def retire(number_id: int):
    tracking = _tracking(number_id)
    try:
        retire_number(db.session, actor=_actor(), tracking=tracking, now=now_utc())
        db.session.commit()
    except NumberError as error:
        db.session.rollback()
        flash(str(error))
    else:
        flash(f"{tracking.number} is retired: it no longer routes calls.")
    return redirect(url_for(".detail", number_id=number_id))
