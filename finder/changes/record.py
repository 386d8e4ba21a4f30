"""Writing change-log entries: called by every operation that changes data, in its transaction."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from finder.changes.models import ChangeEntry


def _plain(value):
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def snapshot(obj, exclude: tuple[str, ...] = ("password_hash",)) -> dict:
    """The column values of a model instance as JSON-ready data (secrets left out)."""
    mapper = inspect(obj).mapper
    return {
        column.key: _plain(getattr(obj, column.key))
        for column in mapper.column_attrs
        if column.key not in exclude
    }


def record(session: Session, *, actor, entity: str, entity_id, action: str, summary: str,
           before: dict | None = None, after: dict | None = None) -> ChangeEntry:
    """Append a change entry. ``actor`` is a User or a string such as "cli"."""
    user_id = getattr(actor, "id", None)
    label = getattr(actor, "email", None) or str(actor)
    entry = ChangeEntry(
        user_id=user_id, actor=label, entity=entity,
        entity_id=None if entity_id is None else str(entity_id), action=action,
        summary=summary[:500], before=_plain(before), after=_plain(after),
    )
    session.add(entry)
    return entry


def changed_fields(before: dict, after: dict) -> dict:
    """Only the fields whose value differs, as {field: [before, after]}."""
    return {k: [before.get(k), after.get(k)] for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)}
