"""The ZIP gazetteer, loaded from the ``zipcodes`` package (coordinates: GeoNames, CC BY 4.0)."""

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from finder.db import Base


class ZipCode(Base):
    __tablename__ = "zip_code"

    zip: Mapped[str] = mapped_column(String(5), primary_key=True)
    #: STANDARD, PO BOX, UNIQUE or MILITARY.
    zip_type: Mapped[str] = mapped_column(String(16))
    city: Mapped[str] = mapped_column(String(120))
    #: Lower-case city with punctuation removed and "saint" spelled "st", for look-ups.
    city_key: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(2))
    county: Mapped[str | None] = mapped_column(String(120))
    latitude: Mapped[float]
    longitude: Mapped[float]
    #: IANA time zone name; None for the few ZIPs the package gives none (military).
    timezone: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (
        Index("ix_zip_code_state_city_key", "state", "city_key"),
        Index("ix_zip_code_city_key", "city_key"),
        Index("ix_zip_code_latitude_longitude", "latitude", "longitude"),
    )
