"""Tracking numbers, the advertiser pool, calls, attempts, and the hash-chained audit trail."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from finder.db import Base, now_utc, value_enum
from finder.directory.models import Facility


class NumberKind(enum.StrEnum):
    FACILITY = "facility"  #: rings one facility's own intake number, and no one else
    HELPLINE = "helpline"  #: answered by the pool's paid advertisers, with a disclosure


class TrackingNumber(Base):
    __tablename__ = "tracking_number"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: E.164, validated with phonenumbers.
    number: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[NumberKind] = mapped_column(value_enum(NumberKind, length=24))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("advertiser_pool.id"), index=True)
    label: Mapped[str | None] = mapped_column(String(200))
    #: True for the fictional 555-01XX demo numbers.
    is_demo: Mapped[bool] = mapped_column(default=False)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)

    facility: Mapped[Facility | None] = relationship()
    pool: Mapped[AdvertiserPool | None] = relationship(back_populates="numbers")

    __table_args__ = (
        CheckConstraint(
            "(kind = 'facility' AND facility_id IS NOT NULL AND pool_id IS NULL) OR "
            "(kind = 'helpline' AND pool_id IS NOT NULL AND facility_id IS NULL)",
            name="owner_matches_kind",
        ),
    )


class AdvertiserPool(Base):
    """A set of advertisers answering one or more helpline numbers, with its routing settings."""

    __tablename__ = "advertiser_pool"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: Ask the caller to key in a 5-digit ZIP to learn their state.
    ask_for_zip: Mapped[bool] = mapped_column(default=False)
    #: How many advertisers one call may try before the SAMHSA helpline answers.
    max_attempts: Mapped[int] = mapped_column(default=3)
    repeat_window_days: Mapped[int] = mapped_column(default=30)
    min_answer_rate: Mapped[float] = mapped_column(default=0.5)
    is_demo: Mapped[bool] = mapped_column(default=False)

    advertisers: Mapped[list[Advertiser]] = relationship(
        back_populates="pool", order_by="Advertiser.id"
    )
    numbers: Mapped[list[TrackingNumber]] = relationship(back_populates="pool")


class Advertiser(Base):
    """A licensed treatment facility that pays to answer helpline calls."""

    __tablename__ = "advertiser"

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("advertiser_pool.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(2))
    #: E.164 number the calls ring.
    phone: Mapped[str] = mapped_column(String(20))
    tier: Mapped[int] = mapped_column(default=1)
    weight: Mapped[int] = mapped_column(default=1)
    daily_cap: Mapped[int | None]
    monthly_cap: Mapped[int | None]
    concurrent_cap: Mapped[int | None]
    timezone: Mapped[str] = mapped_column(String(64))
    #: {"mon": [["09:00", "17:00"]], ...} in ``timezone``; an end not after its start is overnight.
    hours: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Two-letter codes of the states whose callers it may take.
    states_served: Mapped[list] = mapped_column(JSON, default=list)
    license_number: Mapped[str | None] = mapped_column(String(100))
    license_state: Mapped[str | None] = mapped_column(String(2))
    license_expires_on: Mapped[date | None]
    accreditation_body: Mapped[str | None] = mapped_column(String(200))
    accreditation_expires_on: Mapped[date | None]
    certification_id: Mapped[str | None] = mapped_column(String(100))
    certification_expires_on: Mapped[date | None]
    contract_starts_on: Mapped[date | None]
    contract_ends_on: Mapped[date | None]
    pricing_basis: Mapped[str | None] = mapped_column(String(200))
    consent_to_be_named: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=False)
    is_demo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=now_utc, onupdate=now_utc
    )

    pool: Mapped[AdvertiserPool] = relationship(back_populates="advertisers")
    facility: Mapped[Facility | None] = relationship()


class RoutingConfigVersion(Base):
    """One row: a random token that triggers on ``advertiser_pool`` and ``advertiser`` replace
    whenever either changes, so processes know when their cached pools are out of date
    (``routing_config``)."""

    __tablename__ = "routing_config_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))


class AdvertiserUsageCounter(Base):
    """Calls reserved per advertiser per local day or month; reserved with a conditional UPDATE."""

    __tablename__ = "advertiser_usage_counter"

    id: Mapped[int] = mapped_column(primary_key=True)
    advertiser_id: Mapped[int] = mapped_column(ForeignKey("advertiser.id"))
    #: "day" or "month".
    period: Mapped[str] = mapped_column(String(8))
    #: The first local date of the period, in the advertiser's own time zone.
    starts_on: Mapped[date]
    calls: Mapped[int] = mapped_column(default=0)

    __table_args__ = (UniqueConstraint("advertiser_id", "period", "starts_on"),)


class CallStatus(enum.StrEnum):
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"


class Call(Base):
    __tablename__ = "call"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    tracking_number_id: Mapped[int | None] = mapped_column(ForeignKey("tracking_number.id"))
    #: The number dialled, as Twilio sent it (a finder number, never the caller's).
    to_number: Mapped[str] = mapped_column(String(20))
    number_kind: Mapped[str | None] = mapped_column(String(16))
    caller_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    caller_last_four: Mapped[str | None] = mapped_column(String(4))
    caller_state: Mapped[str | None] = mapped_column(String(2))
    state_signal: Mapped[str] = mapped_column(String(24), default="none")
    status: Mapped[CallStatus] = mapped_column(
        value_enum(CallStatus, length=24), default=CallStatus.IN_PROGRESS
    )
    #: What finally happened: connected, voicemail-free end, call-back requested, samhsa, ...
    outcome: Mapped[str | None] = mapped_column(String(40))
    duration_seconds: Mapped[int | None]
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    tracking_number: Mapped[TrackingNumber | None] = relationship()
    attempts: Mapped[list[CallAttempt]] = relationship(
        back_populates="call", order_by="CallAttempt.attempt_number"
    )

    __table_args__ = (Index("ix_call_started_at", "started_at"),)


class AttemptStatus(enum.StrEnum):
    RESERVED = "reserved"  #: chosen and counted, the dial is under way
    BRIDGED = "bridged"  #: the destination answered and the caller is connected now
    COMPLETED = "completed"  #: was bridged, and the conversation has ended
    FAILED = "failed"  #: busy, no-answer, failed or canceled: the reservation was released
    EXPIRED = "expired"  #: no callback ever came: the leg was closed by expiry


class CallAttempt(Base):
    """One destination tried during a call (a leg)."""

    __tablename__ = "call_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("call.id"))
    attempt_number: Mapped[int]
    #: facility, advertiser or samhsa.
    destination_kind: Mapped[str] = mapped_column(String(16))
    advertiser_id: Mapped[int | None] = mapped_column(ForeignKey("advertiser.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    dialed_number: Mapped[str] = mapped_column(String(20))
    status: Mapped[AttemptStatus] = mapped_column(value_enum(AttemptStatus, length=24))
    dial_call_status: Mapped[str | None] = mapped_column(String(24))
    #: The advertiser's local day whose caps this attempt counted against (None: not counted).
    counted_on: Mapped[date | None]
    #: Twilio's CallSid of the outgoing leg, from its status callbacks.
    leg_sid: Mapped[str | None] = mapped_column(String(64))
    duration_seconds: Mapped[int | None]
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    #: When the destination picked up (the leg's first "answered" status callback).
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: A leg still RESERVED after this moment is counted as over (a lost callback).
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    call: Mapped[Call] = relationship(back_populates="attempts")
    advertiser: Mapped[Advertiser | None] = relationship()

    __table_args__ = (
        UniqueConstraint("call_id", "attempt_number"),
        Index("ix_call_attempt_advertiser_id_status", "advertiser_id", "status"),
        # expire_stale_legs: live legs past their expiry.
        Index("ix_call_attempt_status_expires_at", "status", "expires_at"),
        # An advertiser's most recent legs (answer rate over its last 20 calls).
        Index("ix_call_attempt_advertiser_id_started_at", "advertiser_id", "started_at", "id"),
    )


class AuditEntry(Base):
    """An append-only, hash-chained record of a routing decision or outcome."""

    __tablename__ = "routing_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("call.id"), index=True)
    attempt_number: Mapped[int | None]
    #: decision or outcome.
    kind: Mapped[str] = mapped_column(String(16))
    #: Canonical JSON of everything recorded (candidates, verdicts, figures, pool hash...).
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)


class WebhookReceipt(Base):
    """The answer given to one webhook step of one call, so a Twilio retry gets the same answer.

    Routing happens once per (call_sid, step); a retry never routes or counts twice.
    """

    __tablename__ = "webhook_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(120))
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)

    __table_args__ = (UniqueConstraint("call_sid", "step"),)


class CallbackRequest(Base):
    """A caller's request to be called back; the number is stored only encrypted."""

    __tablename__ = "callback_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("call.id"), unique=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    #: Fernet token of the E.164 number (key from CALLBACK_ENCRYPTION_KEY).
    number_encrypted: Mapped[str] = mapped_column(Text)
    last_four: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)

    call: Mapped[Call] = relationship()
    facility: Mapped[Facility | None] = relationship()
