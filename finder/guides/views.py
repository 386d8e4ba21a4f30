"""Substance guides: the public pages and comment form, and the staff pages that edit and moderate.

``guides`` is public (published guides only; comments need CSRF, pass a rate limit and a
honeypot, and wait for approval). ``guides_admin`` lives under /staff: operators read, only
admins change (``protect_blueprint``).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from finder.accounts.roles import protect_blueprint
from finder.directory.filters import services_by_code
from finder.extensions import db, limiter
from finder.guides.forms import CommentForm, GuideForm, ModerationForm
from finder.guides.models import CommentStatus, Guide, GuideComment, GuideStatus
from finder.guides.operations import (
    GuideError,
    GuideInput,
    all_guides,
    approved_comments,
    create_guide,
    decide_comment,
    find_comments,
    pending_count,
    published_guide,
    published_guides,
    submit_comment,
    update_guide,
)
from finder.guides.rendering import render_markdown
from finder.staff import navigation
from finder.staff.queues import queue_filter

bp = Blueprint("guides", __name__, url_prefix="/guides")
admin_bp = Blueprint("guides_admin", __name__, url_prefix="/staff/guides")
protect_blueprint(admin_bp)
navigation.add_link("guides_admin.index", "Guides")
navigation.add_link("guides_admin.comments", "Guide comments")


def _comment_limit() -> str:
    return current_app.config["COMMENT_RATE_LIMIT"]


def _guide_page(guide: Guide, form: CommentForm | None = None, status: int = 200, *,
                template: str = "guides/guide.html"):
    services = services_by_code(guide.related_services or [])
    related = [(code, services[code].plain_label) for code in guide.related_services or []
               if code in services]
    return render_template(
        template, guide=guide, body_html=render_markdown(guide.body),
        comments=approved_comments(db.session, guide) if guide.id else [],
        form=form or CommentForm(formdata=None), related=related,
        radius=current_app.config["SEARCH_DEFAULT_RADIUS_MILES"],
    ), status


def _published_or_404(slug: str) -> Guide:
    found = published_guide(db.session, slug)
    if found is None:
        abort(404, "We couldn't find that guide.")
    return found


@bp.get("")
def index():
    return render_template("guides/index.html", guides=published_guides(db.session))


@bp.get("/<slug>")
def guide(slug: str):
    return _guide_page(_published_or_404(slug))


@bp.post("/<slug>/comments")
@limiter.limit(_comment_limit)
def comment(slug: str):
    found = _published_or_404(slug)
    form = CommentForm()
    if form.website.data:
        # A bot sees the same thanks a person does, so it learns nothing; nothing is kept.
        current_app.logger.info("guide comment: honeypot filled on guide %s", found.id)
        return render_template("guides/thanks.html", guide=found), 201
    if not form.validate_on_submit():
        return _guide_page(found, form, 400)
    submit_comment(db.session, found, display_name=form.display_name.data,
                   body=form.body.data)
    db.session.commit()
    return render_template("guides/thanks.html", guide=found), 201


# -- staff ------------------------------------------------------------------------------------


def _guide_or_404(guide_id: int) -> Guide:
    found = db.session.get(Guide, guide_id)
    if found is None:
        abort(404, "There is no guide with that number.")
    return found


def _input(form: GuideForm) -> GuideInput:
    return GuideInput(
        slug=form.slug.data, title=form.title.data, summary=form.summary.data,
        body=form.body.data, status=GuideStatus(form.status.data),
        last_reviewed_on=form.last_reviewed_on.data,
        related_services=tuple(form.related_services.data or ()),
    )


def _form_page(form: GuideForm, guide: Guide | None, status: int = 200):
    return render_template("guides/admin/form.html", form=form, guide=guide), status


def _save(form: GuideForm, guide: Guide | None):
    """Validate and save; the form again with its errors (400) when anything is wrong."""
    if not form.validate_on_submit():
        return _form_page(form, guide, 400)
    actor = current_user._get_current_object()
    try:
        if guide is None:
            guide = create_guide(db.session, _input(form), actor=actor)
            message = f"Created the guide {guide.title!r}."
        else:
            changes = update_guide(db.session, guide, _input(form), actor=actor)
            message = (f"Saved the guide {guide.title!r}." if changes
                       else "Nothing changed.")
    except GuideError as error:
        db.session.rollback()
        target = getattr(form, error.field, None) if error.field else None
        if target is not None:
            target.errors = [*target.errors, str(error)]
        else:
            form.form_errors.append(str(error))
        return _form_page(form, guide, 400)
    db.session.commit()
    flash(message)
    return redirect(url_for(".index"), 303)


@admin_bp.get("/", endpoint="index")
def staff_index():
    return render_template("guides/admin/index.html", guides=all_guides(db.session),
                           pending=pending_count(db.session))


@admin_bp.route("/new", methods=["GET", "POST"])
def new():
    form = GuideForm()
    if request.method == "GET":
        return _form_page(form, None)
    return _save(form, None)


@admin_bp.route("/<int:guide_id>/edit", methods=["GET", "POST"])
def edit(guide_id: int):
    guide = _guide_or_404(guide_id)
    if request.method == "GET":
        return _form_page(GuideForm(obj=guide), guide)
    return _save(GuideForm(), guide)


@admin_bp.get("/<int:guide_id>/preview")
def preview(guide_id: int):
    """The guide as visitors would see it, drafts too (comments are not open here)."""
    return _guide_page(_guide_or_404(guide_id), template="guides/admin/preview.html")


@admin_bp.get("/comments")
def comments():
    status, page_number = queue_filter(request.args, CommentStatus)
    page = find_comments(db.session, status=status, page=page_number)
    return render_template("guides/admin/comments.html", page=page, status=status,
                           statuses=list(CommentStatus),
                           args={"status": status.value} if status else {})


def _decide(comment_id: int, status: CommentStatus):
    found = db.session.get(GuideComment, comment_id)
    if found is None:
        abort(404, "There is no comment with that number.")
    if not ModerationForm().validate_on_submit():
        abort(400)
    try:
        decide_comment(db.session, found, status, actor=current_user._get_current_object())
    except GuideError as error:
        db.session.rollback()
        flash(str(error))
    else:
        db.session.commit()
        verb = "Approved" if status == CommentStatus.APPROVED else "Rejected"
        flash(f"{verb} comment #{comment_id}.")
    kept = {name: request.args[name] for name in ("status", "page") if request.args.get(name)}
    return redirect(url_for(".comments", **kept), 303)


@admin_bp.post("/comments/<int:comment_id>/approve")
def approve(comment_id: int):
    return _decide(comment_id, CommentStatus.APPROVED)


@admin_bp.post("/comments/<int:comment_id>/reject")
def reject(comment_id: int):
    return _decide(comment_id, CommentStatus.REJECTED)
