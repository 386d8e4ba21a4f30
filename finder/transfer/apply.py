"""Matching checked rows with facilities, then writing only the differences (never a duplicate).

A row is the facility with the same ``source_key`` (the seeder's key, so the shared files
imported into a seeded directory find their facilities) or, for an HSDS file, the facility
whose exported location id it carries. As when seeding, an import sets the name, address and
coordinates a file gives (a column its format lacks, such as the API's county, is left alone)
and the phones and website it gives (a file without a phone does not erase one), only ever adds
services, never reopens or closes a listing and leaves alone a facility an admin has verified.
A facility's ``data_source`` becomes the file's only when the file changes where or what the
listing is, so re-importing the seed files leaves the seeder's provenance. An HSDS file is a
whole record: it also sets status, the verification date and the exact services, and clears
what it leaves out.

``plan_import`` only reads, so a dry run is the plan without ``write_plan``.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from finder.db import now_utc
from finder.directory.models import Facility, FacilityStatus, GeoPrecision, facility_service
from finder.seeding.sync import CONTACT_COLUMNS, SOURCE_COLUMNS, unique_slug
from finder.transfer.identifiers import location_id
from finder.transfer.rows import LISTING_COLUMNS, Candidate, Problem

BATCH = 2000
#: ``data_source`` follows a change of these (what the listing says about the place).
PLACE_COLUMNS = LISTING_COLUMNS
FIELDS = (*SOURCE_COLUMNS, *CONTACT_COLUMNS, "status", "last_verified_on")


class Outcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"


@dataclass
class Plan:
    inserts: list[dict] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    #: (source key of a facility to create, or id of an existing one, service code)
    links_to_add: list[tuple[str | int, str]] = field(default_factory=list)
    links_to_remove: dict[int, set[str]] = field(default_factory=dict)
    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    skipped: list[Problem] = field(default_factory=list)

    @property
    def links_removed(self) -> int:
        return sum(len(codes) for codes in self.links_to_remove.values())


def _given(candidate: Candidate) -> dict:
    """The facility columns the row sets."""
    record = candidate.record
    contacts = {c: getattr(record, c) for c in CONTACT_COLUMNS}
    if candidate.authoritative:
        return {c: getattr(record, c) for c in SOURCE_COLUMNS} | contacts | candidate.extra
    given = {c: v for c, v in contacts.items() if v is not None}
    if candidate.contacts_only:
        return given
    carried = candidate.carried
    return {
        c: getattr(record, c) for c in PLACE_COLUMNS if carried is None or c in carried
    } | given


def plan_import(session: Session, candidates: list[Candidate]) -> Plan:
    columns = ("id", "source_key", "slug", *FIELDS)
    existing = session.execute(select(*(getattr(Facility, c) for c in columns))).all()
    by_key = {row.source_key: row for row in existing if row.source_key}
    by_location = (
        {location_id(row.slug): row for row in existing}
        if any(c.location_id for c in candidates)
        else {}
    )
    slugs = {row.slug for row in existing}
    links: dict[int, set[str]] = defaultdict(set)
    for facility_id, code in session.execute(
        select(facility_service.c.facility_id, facility_service.c.service_code)
    ):
        links[facility_id].add(code)

    plan = Plan()
    now = now_utc()
    seen: dict[object, int] = {}  # facility id or new source key → the row that claimed it
    for candidate in candidates:
        record = candidate.record
        row = by_key.get(record.source_key) or by_location.get(candidate.location_id)
        claim = row.id if row is not None else record.source_key
        if claim in seen:
            plan.skipped.append(
                Problem(candidate.row, record.name1, f"same facility as row {seen[claim]}")
            )
            continue
        seen[claim] = candidate.row
        if row is None:
            if candidate.contacts_only:
                plan.skipped.append(Problem(
                    candidate.row, record.name1,
                    "mental-health listing with no facility of the same name, street and ZIP "
                    "(mental-health listings are not added)",
                ))
                continue
            slug = candidate.slug if candidate.slug and candidate.slug not in slugs else (
                unique_slug(record, slugs)
            )
            slugs.add(slug)
            plan.inserts.append(
                {c: getattr(record, c) for c in SOURCE_COLUMNS + CONTACT_COLUMNS}
                | {
                    "source_key": record.source_key,
                    "slug": slug,
                    "geo_precision": GeoPrecision.ROOFTOP,
                    "status": FacilityStatus.ACTIVE,
                    "last_verified_on": None,
                    "source_date": None,
                    "created_at": now,
                    "updated_at": now,
                }
                | candidate.extra
            )
            plan.links_to_add.extend((record.source_key, code) for code in sorted(record.services))
            plan.counts[Outcome.CREATED] += 1
            continue

        current = {c: getattr(row, c) for c in FIELDS}
        new = current | _given(candidate)
        if not candidate.authoritative and any(new[c] != current[c] for c in PLACE_COLUMNS):
            new["data_source"] = record.data_source
        linked = links.get(row.id, set())
        wanted = set(record.services) if candidate.authoritative else linked | record.services
        if new == current and wanted == linked:
            plan.counts[Outcome.UNCHANGED] += 1
        elif row.last_verified_on is not None:
            plan.skipped.append(Problem(
                candidate.row, record.name1,
                f"verified by an admin on {row.last_verified_on.isoformat()}: left as it is",
            ))
        else:
            plan.updates.append(new | {"id": row.id, "updated_at": now})
            plan.links_to_add.extend((row.id, code) for code in sorted(wanted - linked))
            if linked - wanted:
                plan.links_to_remove[row.id] = linked - wanted
            plan.counts[Outcome.UPDATED] += 1
    plan.counts[Outcome.SKIPPED] = len(plan.skipped)
    return plan


def _batches(rows: list):
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def write_plan(session: Session, plan: Plan) -> None:
    for batch in _batches(plan.inserts):
        session.execute(insert(Facility.__table__), batch)
    for batch in _batches(plan.updates):
        session.execute(update(Facility), batch)
    for facility_id, codes in plan.links_to_remove.items():
        session.execute(
            delete(facility_service).where(
                facility_service.c.facility_id == facility_id,
                facility_service.c.service_code.in_(sorted(codes)),
            )
        )
    if not plan.links_to_add:
        return
    new_keys = {key for key, _ in plan.links_to_add if isinstance(key, str)}
    ids: dict[str, int] = {}
    for batch in _batches(sorted(new_keys)):
        ids.update(
            session.execute(
                select(Facility.source_key, Facility.id).where(Facility.source_key.in_(batch))
            ).all()
        )
    links = [
        {"facility_id": ids[key] if isinstance(key, str) else key, "service_code": code}
        for key, code in plan.links_to_add
    ]
    for batch in _batches(links):
        session.execute(insert(facility_service), batch)
