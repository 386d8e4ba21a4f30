"""One row per change an admin makes: who, when, what, before and after. Never edited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from finder.accounts.models import User
from finder.db import Base, now_utc


class ChangeEntry(Base):
    __tablename__ = "change_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    #: The admin who made the change (None for a command run from the shell).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: Who, as text that survives the account: an email, or "cli:flask import ...".
    actor: Mapped[str] = mapped_column(String(254))
    #: What kind of thing changed: facility, service_link, tracking_number, advertiser, user,
    #: problem_report, import...
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    #: create, update, close, verify, assign, retire, apply, dismiss, import...
    action: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(500))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)

    user: Mapped[User | None] = relationship()

    __table_args__ = (
        Index("ix_change_log_entity_entity_id", "entity", "entity_id"),
        Index("ix_change_log_created_at", "created_at"),
    )
