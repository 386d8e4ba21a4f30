"""Writing the in-memory directory to the database: bulk inserts and updates, never duplicates.

A facility is found again by its ``source_key``. Re-seeding updates the source's columns
(name, address, coordinates, data source) when they changed and fills phones and websites the
sources give; it never clears a phone or website, never changes a slug, status or notes, and
leaves alone a facility an admin has verified (``last_verified_on`` set). Service links are only
ever added.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from finder.db import now_utc
from finder.directory.models import Facility, FacilityStatus, GeoPrecision, facility_service
from finder.seeding.facilities import Directory, FacilityRecord
from finder.seeding.normalize import slugify

BATCH = 2000
SOURCE_COLUMNS = (
    "name1", "name2", "street1", "street2", "city", "state", "zip", "zip4", "county",
    "latitude", "longitude", "data_source",
)
CONTACT_COLUMNS = ("phone", "intake_phone", "website")


@dataclass(frozen=True)
class FacilitySyncResult:
    created: int
    updated: int
    unchanged: int
    kept_verified: int
    links_added: int
    links_total: int


def unique_slug(record: FacilityRecord, taken: set[str]) -> str:
    """``name1-city-state``, with ``-2``, ``-3``... when another facility has it."""
    base = slugify(f"{record.name1} {record.city} {record.state}")
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _batches(rows: list[dict]):
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def sync_facilities(session: Session, directory: Directory) -> FacilitySyncResult:
    columns = ("id", "source_key", "slug", "last_verified_on", *SOURCE_COLUMNS, *CONTACT_COLUMNS)
    existing = session.execute(select(*(getattr(Facility, c) for c in columns))).all()
    by_key = {row.source_key: row for row in existing if row.source_key}
    slugs = {row.slug for row in existing}

    now = now_utc()
    inserts: list[dict] = []
    updates: list[dict] = []
    unchanged = 0
    verified: set[str] = set()
    for record in directory:
        values = {c: getattr(record, c) for c in SOURCE_COLUMNS + CONTACT_COLUMNS}
        row = by_key.get(record.source_key)
        if row is None:
            slug = unique_slug(record, slugs)
            slugs.add(slug)
            inserts.append(
                values
                | {
                    "source_key": record.source_key,
                    "slug": slug,
                    "geo_precision": GeoPrecision.ROOFTOP,
                    "status": FacilityStatus.ACTIVE,
                    "source_date": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            continue
        if row.last_verified_on is not None:
            verified.add(record.source_key)
            continue
        for column in CONTACT_COLUMNS:
            if values[column] is None:  # a source without a phone does not erase one
                values[column] = getattr(row, column)
        if all(getattr(row, c) == v for c, v in values.items()):
            unchanged += 1
        else:
            updates.append(values | {"id": row.id, "updated_at": now})

    for batch in _batches(inserts):
        session.execute(insert(Facility.__table__), batch)
    for batch in _batches(updates):
        session.execute(update(Facility), batch)

    links_added, links_total = _sync_links(session, directory, verified)
    return FacilitySyncResult(
        created=len(inserts),
        updated=len(updates),
        unchanged=unchanged,
        kept_verified=len(verified),
        links_added=links_added,
        links_total=links_total,
    )


def _sync_links(session: Session, directory: Directory, skip: set[str]) -> tuple[int, int]:
    ids = dict(
        session.execute(
            select(Facility.source_key, Facility.id).where(Facility.source_key.is_not(None))
        ).all()
    )
    existing = set(
        session.execute(
            select(facility_service.c.facility_id, facility_service.c.service_code)
        ).all()
    )
    wanted = {
        (ids[record.source_key], code)
        for record in directory
        if record.source_key not in skip
        for code in record.services
    }
    missing = sorted(wanted - existing)
    for batch in _batches([{"facility_id": f, "service_code": c} for f, c in missing]):
        session.execute(insert(facility_service), batch)
    return len(missing), len(existing) + len(missing)
