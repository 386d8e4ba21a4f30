"""Facilities and the SAMHSA service taxonomy they are tagged with."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from finder.db import Base, now_utc, value_enum


class FacilityStatus(enum.StrEnum):
    ACTIVE = "active"
    #: Closed facilities stay listed (their page says so); nothing is hard-deleted.
    CLOSED = "closed"


class GeoPrecision(enum.StrEnum):
    """How exact a facility's coordinates are."""

    ROOFTOP = "rooftop"  #: geocoded address from the data source
    ZIP = "zip"  #: centroid of the ZIP code
    CITY = "city"  #: centroid of the city
    MANUAL = "manual"  #: placed by hand by an admin



facility_service = Table(
    "facility_service",
    Base.metadata,
    Column("facility_id", ForeignKey("facility.id", ondelete="CASCADE"), primary_key=True),
    Column("service_code", ForeignKey("service.code", ondelete="CASCADE"), primary_key=True),
    # Filters look facilities up by service: (service_code, facility_id) is the covering index.
    Index("ix_facility_service_service_code_facility_id", "service_code", "facility_id"),
)


class ServiceCategory(Base):
    """A locator category (``f2``), such as TC "Type of Care" or PAY "Payment"."""

    __tablename__ = "service_category"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: The locator's own name for the category.
    name: Mapped[str] = mapped_column(String(200))
    #: A plain-language heading shown to visitors.
    plain_name: Mapped[str] = mapped_column(String(200))
    #: Fixed display order on facility pages and in filters (lower first).
    position: Mapped[int] = mapped_column(default=100)

    services: Mapped[list[Service]] = relationship(
        back_populates="category", order_by="Service.position"
    )


class Service(Base):
    """A locator service code (``BU``, ``MD``...) with its label kept apart from the code."""

    __tablename__ = "service"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("service_category.code"), index=True)
    #: The locator's label for the code.
    label: Mapped[str] = mapped_column(String(300))
    #: A plain-language label for visitors.
    plain_label: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(default=100)
    #: False for the codes no second source confirmed (see the data README).
    confirmed: Mapped[bool] = mapped_column(default=True)

    category: Mapped[ServiceCategory] = relationship(back_populates="services")


class Facility(Base):
    __tablename__ = "facility"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable public identifier used in URLs.
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    #: Natural key of the source record (normalized name, street and ZIP) so re-seeding updates.
    source_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    name1: Mapped[str] = mapped_column(String(300))
    name2: Mapped[str | None] = mapped_column(String(300))
    street1: Mapped[str | None] = mapped_column(String(300))
    street2: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(2), index=True)
    zip: Mapped[str | None] = mapped_column(String(5), index=True)
    zip4: Mapped[str | None] = mapped_column(String(4))
    county: Mapped[str | None] = mapped_column(String(120))
    latitude: Mapped[float]
    longitude: Mapped[float]
    geo_precision: Mapped[GeoPrecision] = mapped_column(
        value_enum(GeoPrecision),
        default=GeoPrecision.ROOFTOP,
    )
    #: E.164 main phone, only where a real source gives one.
    phone: Mapped[str | None] = mapped_column(String(32))
    #: E.164 intake phone, where the source lists one apart from the main number.
    intake_phone: Mapped[str | None] = mapped_column(String(32))
    website: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[FacilityStatus] = mapped_column(
        value_enum(FacilityStatus),
        default=FacilityStatus.ACTIVE,
        index=True,
    )
    #: Where the record came from, for visitors ("SAMHSA locator, 2021 extract").
    data_source: Mapped[str] = mapped_column(String(300))
    #: The date the source published the record, when known.
    source_date: Mapped[date | None]
    #: The last time finder confirmed the listing with the facility (None: never).
    last_verified_on: Mapped[date | None]
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=now_utc, onupdate=now_utc
    )

    services: Mapped[list[Service]] = relationship(
        secondary=facility_service, order_by=Service.position
    )

    @property
    def display_name(self) -> str:
        return self.name1

    @property
    def is_closed(self) -> bool:
        return self.status == FacilityStatus.CLOSED


class FacilityVerification(Base):
    """A time an admin confirmed a listing with the facility (history of last_verified_on)."""

    __tablename__ = "facility_verification"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    verified_on: Mapped[date]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: Who verified, as text that survives the account.
    verified_by: Mapped[str] = mapped_column(String(254))
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
