"""Guides (Markdown, sanitized when rendered) and visitors' comments on them."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from finder.db import Base, now_utc, value_enum


class GuideStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class CommentStatus(enum.StrEnum):
    PENDING = "pending"  #: held until an admin decides; never shown
    APPROVED = "approved"
    REJECTED = "rejected"  #: never shown


class Guide(Base):
    __tablename__ = "guide"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    #: One or two sentences for lists and the page description.
    summary: Mapped[str] = mapped_column(String(500))
    #: Markdown source; rendered to HTML and sanitized on display.
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[GuideStatus] = mapped_column(value_enum(GuideStatus), default=GuideStatus.DRAFT)
    last_reviewed_on: Mapped[date | None]
    #: Service codes of the search a guide links to ("treatment near you"), e.g. ["DT", "BU"].
    related_services: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=now_utc, onupdate=now_utc
    )

    comments: Mapped[list[GuideComment]] = relationship(
        back_populates="guide", order_by="GuideComment.created_at"
    )


class GuideComment(Base):
    __tablename__ = "guide_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    guide_id: Mapped[int] = mapped_column(ForeignKey("guide.id"))
    #: A display name the visitor chose (optional: "Anonymous").
    display_name: Mapped[str | None] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[CommentStatus] = mapped_column(
        value_enum(CommentStatus), default=CommentStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    guide: Mapped[Guide] = relationship(back_populates="comments")

    __table_args__ = (Index("ix_guide_comment_guide_id_status", "guide_id", "status"),)
