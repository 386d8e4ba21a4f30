"""The declarative base shared by every model, with stable constraint names for Alembic."""

import enum
from datetime import UTC, datetime

from sqlalchemy import Enum, MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def now_utc() -> datetime:
    return datetime.now(UTC)


def value_enum(cls: type[enum.Enum], length: int = 16) -> Enum:
    """A string column holding an enum's values (not its names), portable across engines."""
    return Enum(cls, native_enum=False, length=length,
                values_callable=lambda members: [member.value for member in members])
