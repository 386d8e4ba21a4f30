"""Staff pages for the advertiser pool: pools, advertisers, and credentials about to lapse."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from finder.accounts.roles import protect_blueprint
from finder.calls.models import Advertiser, AdvertiserPool
from finder.calls.numbers import facility_line, pool_advertisers
from finder.db import now_utc
from finder.extensions import db
from finder.numbers.forms import ConfirmForm
from finder.numbers.operations import find_facility, search_facilities
from finder.pool import queries
from finder.pool.forms import US_ZONES, AdvertiserForm, PoolForm, explain_refusal
from finder.pool.operations import (
    ActivationRefused,
    PoolError,
    create_advertiser,
    create_pool,
    deactivate_advertiser,
    update_advertiser,
    update_pool,
)
from finder.staff import navigation

bp = Blueprint("pool_admin", __name__, url_prefix="/staff/pool")
protect_blueprint(bp)
navigation.add_link("pool_admin.index", "Advertiser pool")
navigation.add_link("pool_admin.expiring", "Expiring credentials")


def _actor():
    return current_user._get_current_object()


def _status() -> int:
    return 400 if request.method == "POST" else 200


@bp.get("/")
def index():
    now = now_utc()
    return render_template("pool/index.html", pools=queries.pools(db.session),
                           advertisers=queries.advertisers(db.session),
                           expiring=queries.expiring(db.session, now),
                           warning_days=queries.WARNING_DAYS)


@bp.get("/expiring")
def expiring():
    return render_template("pool/expiring.html", expiring=queries.expiring(db.session, now_utc()),
                           warning_days=queries.WARNING_DAYS)


# Pools ---------------------------------------------------------------------------------------

def _pool(pool_id: int) -> AdvertiserPool:
    return db.session.get(AdvertiserPool, pool_id) or abort(404)


@bp.get("/pools/<int:pool_id>")
def pool_detail(pool_id: int):
    pool = _pool(pool_id)
    return render_template("pool/pool.html", pool=pool,
                           advertisers=pool_advertisers(db.session, pool, now_utc()),
                           numbers=queries.helpline_numbers(db.session, pool))


def _save_pool(form: PoolForm, pool: AdvertiserPool | None):
    try:
        if pool is None:
            pool = create_pool(db.session, actor=_actor(), values=form.values())
            changed = True
        else:
            changed = update_pool(db.session, actor=_actor(), pool=pool, values=form.values())
        db.session.commit()
    except PoolError as error:
        db.session.rollback()
        form[error.field].errors.append(str(error))
        return None
    flash(f"Saved pool {pool.name}." if changed else "Nothing changed.")
    return redirect(url_for(".pool_detail", pool_id=pool.id))


@bp.route("/pools/new", methods=["GET", "POST"])
def new_pool():
    form = PoolForm()
    if form.validate_on_submit():
        response = _save_pool(form, None)
        if response is not None:
            return response
    return render_template("pool/pool_form.html", form=form, pool=None), _status()


@bp.route("/pools/<int:pool_id>/edit", methods=["GET", "POST"])
def edit_pool(pool_id: int):
    pool = _pool(pool_id)
    # On POST the form reads only the request: a field missing from it must not keep the row's.
    form = PoolForm(obj=pool) if request.method == "GET" else PoolForm()
    if form.validate_on_submit():
        response = _save_pool(form, pool)
        if response is not None:
            return response
    return render_template("pool/pool_form.html", form=form, pool=pool), _status()


# Advertisers ---------------------------------------------------------------------------------

def _advertiser(advertiser_id: int) -> Advertiser:
    return db.session.get(Advertiser, advertiser_id) or abort(404)


def _picker(form: AdvertiserForm) -> dict:
    query = (request.args.get("q") or "").strip()[:200]
    chosen = find_facility(db.session, form.facility.data) if form.facility.data else None
    return {"q": query, "matches": search_facilities(db.session, query) if query else None,
            "facility_line": facility_line, "chosen": chosen, "zones": US_ZONES}


def _render_form(form: AdvertiserForm, advertiser: Advertiser | None, status: int):
    return render_template("pool/advertiser_form.html", form=form, advertiser=advertiser,
                           deactivate_form=ConfirmForm(), **_picker(form)), status


def _save_advertiser(form: AdvertiserForm, advertiser: Advertiser | None):
    """Validate the linked facility, run the operation; None when the form shows errors."""
    facility_id = None
    if (form.facility.data or "").strip():
        facility = find_facility(db.session, form.facility.data)
        if facility is None:
            form.facility.errors.append("No facility has that id or slug. Search for it below.")
            return None
        facility_id = facility.id
    values = form.values(facility_id)
    try:
        if advertiser is None:
            advertiser = create_advertiser(db.session, actor=_actor(), values=values,
                                           now=now_utc())
            changed = True
        else:
            changed = update_advertiser(db.session, actor=_actor(), advertiser=advertiser,
                                        values=values, now=now_utc())
        db.session.commit()
    except ActivationRefused as refusal:
        db.session.rollback()
        explain_refusal(form, refusal)
        return None
    except PoolError as error:
        db.session.rollback()
        form[error.field].errors.append(str(error))
        return None
    flash(f"Saved advertiser {advertiser.name} ({'active' if advertiser.active else 'inactive'})."
          if changed else "Nothing changed.")
    return redirect(url_for(".advertiser", advertiser_id=advertiser.id))


def _prefill_facility(form: AdvertiserForm) -> None:
    if request.method == "GET" and request.args.get("facility"):
        form.facility.data = request.args["facility"][:200]


@bp.route("/advertisers/new", methods=["GET", "POST"])
def new_advertiser():
    form = AdvertiserForm()
    form.set_pools(queries.pools(db.session))
    if request.method == "GET" and request.args.get("pool", "").isdigit():
        form.pool_id.data = request.args["pool"]
    _prefill_facility(form)
    if form.validate_on_submit():
        response = _save_advertiser(form, None)
        if response is not None:
            return response
    return _render_form(form, None, _status())


@bp.route("/advertisers/<int:advertiser_id>", methods=["GET", "POST"])
def advertiser(advertiser_id: int):
    record = _advertiser(advertiser_id)
    form = AdvertiserForm(obj=record) if request.method == "GET" else AdvertiserForm()
    form.set_pools(queries.pools(db.session))
    if request.method == "GET":
        form.pool_id.data = str(record.pool_id)
        form.facility.data = str(record.facility_id) if record.facility_id else ""
        form.load_hours(record.hours)
        _prefill_facility(form)
    if form.validate_on_submit():
        response = _save_advertiser(form, record)
        if response is not None:
            return response
    return _render_form(form, _advertiser(advertiser_id), _status())


@bp.post("/advertisers/<int:advertiser_id>/deactivate")
def deactivate(advertiser_id: int):
    record = _advertiser(advertiser_id)
    if deactivate_advertiser(db.session, actor=_actor(), advertiser=record):
        db.session.commit()
        flash(f"{record.name} is inactive: it takes no more calls.")
    else:
        flash(f"{record.name} was already inactive.")
    return redirect(url_for(".advertiser", advertiser_id=advertiser_id))
