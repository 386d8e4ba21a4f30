"""Browsing the change log: filter by entity, action, actor, dates and text. Read-only.

There is deliberately no route that edits or deletes an entry (only GET routes exist here).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, render_template, request, url_for
from sqlalchemy.orm import Session
from wtforms import DateField, Form, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, ValidationError

from finder.accounts.roles import protect_blueprint
from finder.changes.models import ChangeEntry
from finder.extensions import db
from finder.paging import clamped, page_count, page_number
from finder.staff import navigation
from finder.typed_text import PlainText

bp = Blueprint("changes", __name__, url_prefix="/staff/changes")
protect_blueprint(bp)
navigation.add_link("changes.index", "Change log")

PER_PAGE = 50
#: Where an entry's subject can be seen, for the entities whose pages exist.
ENTITY_PAGES = {
    "tracking_number": ("numbers_admin.detail", "number_id"),
    "advertiser": ("pool_admin.advertiser", "advertiser_id"),
    "advertiser_pool": ("pool_admin.pool_detail", "pool_id"),
}


@dataclass(frozen=True)
class ChangeFilter:
    entity: str | None = None
    entity_id: str | None = None
    action: str | None = None
    actor: str | None = None
    since: date | None = None  #: first UTC day included
    until: date | None = None  #: last UTC day included
    text: str | None = None


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def filtered(flt: ChangeFilter) -> sa.Select:
    query = sa.select(ChangeEntry)
    if flt.entity:
        query = query.where(ChangeEntry.entity == flt.entity)
    if flt.entity_id:
        query = query.where(ChangeEntry.entity_id == flt.entity_id)
    if flt.action:
        query = query.where(ChangeEntry.action == flt.action)
    if flt.actor:
        query = query.where(
            sa.func.lower(ChangeEntry.actor).contains(flt.actor.lower(), autoescape=True))
    if flt.since:
        query = query.where(ChangeEntry.created_at >= _day_start(flt.since))
    if flt.until and flt.until < date.max:
        query = query.where(ChangeEntry.created_at < _day_start(flt.until + timedelta(days=1)))
    if flt.text:
        query = query.where(sa.or_(
            sa.func.lower(ChangeEntry.summary).contains(flt.text.lower(), autoescape=True),
            ChangeEntry.entity_id == flt.text,
        ))
    return query


def browse(session: Session, flt: ChangeFilter, page: int) -> tuple[list[ChangeEntry], int, int]:
    """One page of matching entries, newest first, with the total and the page actually shown."""
    query = filtered(flt)
    total = session.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    page = clamped(page, total, PER_PAGE)
    entries = session.execute(
        query.order_by(ChangeEntry.created_at.desc(), ChangeEntry.id.desc())
        .offset((page - 1) * PER_PAGE).limit(PER_PAGE)
    ).scalars().all()
    return list(entries), total, page


def _distinct(session: Session, column) -> list[str]:
    return list(session.execute(sa.select(column).distinct().order_by(column)).scalars())


class FilterForm(Form):
    """The GET filter form (it changes nothing, so it carries no CSRF token)."""

    # Any value filters (a link may name an entity with no entries yet); equality only.
    entity = SelectField("What", choices=[SelectChoice("", "Everything")], default="",
                         validate_choice=False, validators=[PlainText()])
    action = SelectField("Action", choices=[SelectChoice("", "Any action")], default="",
                         validate_choice=False, validators=[PlainText()])
    actor = StringField("Who (email contains)",
                        validators=[Optional(), Length(max=254), PlainText()])
    since = DateField("From (UTC date)", validators=[Optional()])
    until = DateField("Until (UTC date, included)", validators=[Optional()])
    q = StringField("Text in the summary, or an id",
                    validators=[Optional(), Length(max=200), PlainText()])
    entity_id = StringField("Id", validators=[Optional(), Length(max=64), PlainText()])

    def validate_until(self, field) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end date is before the start date.")

    def to_filter(self) -> ChangeFilter:
        def text(field):
            return (field.data or "").strip() or None

        return ChangeFilter(entity=self.entity.data or None, entity_id=text(self.entity_id),
                            action=self.action.data or None, actor=text(self.actor),
                            since=self.since.data, until=self.until.data, text=text(self.q))


def _page_arg() -> int:
    return page_number(request.args.get("page"))


@bp.get("/")
def index():
    form = FilterForm(request.args)
    entities = _distinct(db.session, ChangeEntry.entity)
    actions = _distinct(db.session, ChangeEntry.action)
    form.entity.choices = [SelectChoice("", "Everything")] + [
        SelectChoice(e, e.replace("_", " "))
        for e in sorted({*entities, form.entity.data} - {"", None})]
    form.action.choices = [SelectChoice("", "Any action")] + [
        SelectChoice(a) for a in sorted({*actions, form.action.data} - {"", None})]
    if not form.validate():
        return render_template("changes/index.html", form=form, entries=None, total=0, page=1,
                               pages=1, args={}), 400
    entries, total, page = browse(db.session, form.to_filter(), _page_arg())
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("changes/index.html", form=form, entries=entries, total=total,
                           page=page, pages=page_count(total, PER_PAGE), args=args)


def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def field_rows(entry: ChangeEntry) -> list[dict]:
    """The entry's before and after side by side, one row per field, changed ones marked."""
    before, after = entry.before or {}, entry.after or {}
    keys = list(before) + [k for k in after if k not in before]
    return [{"field": key, "before": _shown(before.get(key)), "after": _shown(after.get(key)),
             "changed": before.get(key) != after.get(key)} for key in keys]


def subject_link(entry: ChangeEntry) -> str | None:
    page = ENTITY_PAGES.get(entry.entity)
    if page is None or page[0] not in current_app.view_functions:
        return None
    if not (entry.entity_id or "").isdigit():
        return None
    return url_for(page[0], **{page[1]: int(entry.entity_id)})


@bp.get("/<int:entry_id>")
def entry(entry_id: int):
    found = db.session.get(ChangeEntry, entry_id) or abort(404)
    return render_template("changes/entry.html", entry=found, rows=field_rows(found),
                           subject=subject_link(found),
                           only_after=found.before is None, only_before=found.after is None)
