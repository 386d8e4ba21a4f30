"""Exporting the directory: every facility's public fields as CSV, or as HSDS (see ``hsds``).

Only directory data leaves: staff notes, the internal id and source key of the CSV, accounts,
calls and callers are never part of an export.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from finder.directory.models import Facility, Service, ServiceCategory, facility_service

#: The CSV columns, in order; ``services`` is the facility's codes joined with ";".
CSV_COLUMNS = (
    "slug", "name1", "name2", "street1", "street2", "city", "state", "zip", "zip4", "county",
    "latitude", "longitude", "geo_precision", "phone", "intake_phone", "website", "status",
    "services", "data_source", "source_date", "last_verified_on", "updated_at",
)
_FACILITY_COLUMNS = (
    "id", "slug", "source_key", "name1", "name2", "street1", "street2", "city", "state", "zip",
    "zip4", "county", "latitude", "longitude", "geo_precision", "phone", "intake_phone",
    "website", "status", "data_source", "source_date", "last_verified_on", "updated_at",
)
#: Spreadsheets run a cell starting with these as a formula; such text gets a leading "'".
_FORMULA_STARTS = ("=", "@", "\t", "\r")
ROWS_PER_CHUNK = 500


@dataclass(frozen=True)
class DirectoryData:
    """Every facility (rows with ``_FACILITY_COLUMNS``), its service codes and the taxonomy."""

    facilities: list
    codes: dict[int, list[str]]
    categories: list[ServiceCategory]
    services: list[Service]


def load_directory(session: Session) -> DirectoryData:
    facilities = session.execute(
        select(*(getattr(Facility, c) for c in _FACILITY_COLUMNS)).order_by(
            Facility.state, Facility.city, Facility.name1, Facility.id
        )
    ).all()
    codes: dict[int, list[str]] = defaultdict(list)
    for facility_id, code in session.execute(
        select(facility_service.c.facility_id, Service.code)
        .join(Service, Service.code == facility_service.c.service_code)
        .order_by(facility_service.c.facility_id, Service.position, Service.code)
    ):
        codes[facility_id].append(code)
    categories = list(
        session.execute(
            select(ServiceCategory).order_by(ServiceCategory.position, ServiceCategory.code)
        ).scalars()
    )
    services = list(
        session.execute(select(Service).order_by(Service.position, Service.code)).scalars()
    )
    return DirectoryData(facilities, dict(codes), categories, services)


def utc_text(moment: datetime | None) -> str | None:
    """``2025-03-04T05:06:07Z`` (SQLite gives back naive UTC times, PostgreSQL aware ones)."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def cell(value) -> str:
    """A value as CSV text: empty for None, ISO dates and UTC times, enum values, floats in
    full precision."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_row(facility, codes: list[str]) -> list[str]:
    values = {c: getattr(facility, c) for c in _FACILITY_COLUMNS} | {"services": ";".join(codes)}
    return [_safe(cell(values[column])) for column in CSV_COLUMNS]


def csv_chunks(directory: DirectoryData) -> Iterator[str]:
    """The directory CSV, a few hundred rows at a time (for a streamed download)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for number, facility in enumerate(directory.facilities, start=1):
        writer.writerow(csv_row(facility, directory.codes.get(facility.id, [])))
        if number % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_csv(session: Session, stream: io.TextIOBase) -> int:
    """Write the directory CSV to a text stream; returns the number of facilities."""
    directory = load_directory(session)
    for chunk in csv_chunks(directory):
        stream.write(chunk)
    return len(directory.facilities)
