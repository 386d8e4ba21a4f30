"""A visitor's report that a listing is wrong, with the change they suggest."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from finder.accounts.models import User
from finder.db import Base, now_utc, value_enum
from finder.directory.models import Facility


class ReportStatus(enum.StrEnum):
    OPEN = "open"
    APPLIED = "applied"  #: an admin applied the suggested change
    DISMISSED = "dismissed"


class ProblemReport(Base):
    __tablename__ = "problem_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    #: What is wrong: phone, address, website, closed, services, other.
    problem: Mapped[str] = mapped_column(String(24))
    #: The visitor's words.
    message: Mapped[str] = mapped_column(Text)
    #: A structured suggestion an admin can apply, e.g. {"phone": "+14349798871"}.
    suggested: Mapped[dict | None] = mapped_column(JSON)
    #: Optional, only so an admin can ask a follow-up question.
    reporter_email: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[ReportStatus] = mapped_column(
        value_enum(ReportStatus),
        default=ReportStatus.OPEN,
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decision_note: Mapped[str | None] = mapped_column(String(500))

    facility: Mapped[Facility] = relationship()
    decided_by: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_problem_report_status_created_at", "status", "created_at"),)
