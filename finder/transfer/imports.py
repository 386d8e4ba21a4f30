"""Importing a file into the directory: read and check every row, match each with its
facility, then (unless it is a dry run) write the differences and one change-log entry.

Callable without a request: ``flask import ...`` and the staff upload form both call
``run_import`` and then commit (a real run) or roll back (a dry run, which writes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from finder.changes.record import record
from finder.directory.models import Service, ServiceCategory
from finder.seeding.taxonomy import LabelIndex
from finder.transfer import sources
from finder.transfer.apply import Outcome, plan_import, write_plan
from finder.transfer.hsds_files import read_tables
from finder.transfer.hsds_import import parse_hsds
from finder.transfer.rows import Problem
from finder.transfer.sources import ImportFileError, Progress

__all__ = ["KINDS", "ImportFileError", "ImportReport", "Progress", "run_import"]

#: Import kinds (CLI names) and what they read.
KINDS = {
    "samhsa-csv": "SAMHSA locator CSV",
    "findtreatment": "FindTreatment.gov API JSON",
    "hsds": "Open Referral HSDS 3.0 (zip of CSVs, or JSON)",
}
_DATA_SOURCES = {
    "samhsa-csv": "SAMHSA Treatment Locator CSV, imported from {file}",
    "findtreatment": "FindTreatment.gov API, imported from {file}",
    "hsds": "Open Referral HSDS data, imported from {file}",
}


@dataclass
class ImportReport:
    kind: str
    file_name: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Problem] = field(default_factory=list)
    failed: list[Problem] = field(default_factory=list)
    #: (category code, label) → rows listing a service label that maps to no code.
    unmapped: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    links_added: int = 0
    links_removed: int = 0
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "unmapped_labels": sum(len(rows) for rows in self.unmapped.values()),
            "service_links_added": self.links_added,
            "service_links_removed": self.links_removed,
        }

    def summary(self) -> str:
        c = self.counts()
        verb = "Dry run of" if self.dry_run else "Imported"
        return (
            f"{verb} {self.file_name} ({KINDS[self.kind]}): {c['rows']:,} rows; "
            f"{c['created']:,} created, {c['updated']:,} updated, {c['unchanged']:,} unchanged, "
            f"{c['skipped']:,} skipped, {c['failed']:,} failed."
        )

    def lines(self, limit: int = 20) -> list[str]:
        """The closing summary of the CLI: counts, then the first ``limit`` problems."""
        lines = [self.summary(), *self.notes]
        if self.dry_run:
            lines.append("Dry run: nothing was changed.")
        if self.links_added or self.links_removed:
            lines.append(
                f"Service links: {self.links_added:,} added, {self.links_removed:,} removed."
            )
        for title, problems in (("Failed rows", self.failed), ("Skipped rows", self.skipped)):
            if problems:
                lines.append(f"{title} (first {min(limit, len(problems))} of {len(problems)}):")
                lines.extend(f"  row {p.row}: {p.name or '(no name)'}: {p.reason}"
                             for p in problems[:limit])
        if self.unmapped:
            lines.append(f"Service labels with no code (not linked), {len(self.unmapped)}:")
            for (category, label), rows in sorted(self.unmapped.items())[:limit]:
                shown = ", ".join(str(r) for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
                lines.append(f"  {category} {label!r}: rows {shown}")
        return lines


def _parse(session: Session, kind: str, source: Path | bytes, file_name: str,
           progress: Progress | None) -> sources.Parsed:
    data_source = _DATA_SOURCES[kind].format(file=file_name)[:300]
    if kind == "hsds":
        tables = read_tables(source)
        known = set(session.execute(select(Service.code)).scalars())
        categories = set(session.execute(select(ServiceCategory.code)).scalars())
        return parse_hsds(tables, data_source, known, categories, progress)
    data = source if isinstance(source, bytes) else source.read_bytes()
    if kind == "samhsa-csv":
        return sources.parse_locator_csv(data, data_source, progress)
    if kind == "findtreatment":
        index = LabelIndex.from_session(session)
        return sources.parse_api_json(data, data_source, index, progress)
    raise ValueError(f"unknown import kind {kind!r}")


def run_import(session: Session, kind: str, source: Path | bytes, file_name: str, *,
               dry_run: bool, actor, progress: Progress | None = None) -> ImportReport:
    """Import one file. ImportFileError when it cannot be read at all; OSError when a path
    cannot be opened. The caller commits (or, for a dry run, rolls back)."""
    parsed = _parse(session, kind, source, file_name, progress)
    plan = plan_import(session, parsed.candidates)
    report = ImportReport(
        kind=kind,
        file_name=file_name,
        dry_run=dry_run,
        rows=parsed.rows,
        created=plan.counts[Outcome.CREATED],
        updated=plan.counts[Outcome.UPDATED],
        unchanged=plan.counts[Outcome.UNCHANGED],
        skipped=sorted(parsed.skipped + plan.skipped, key=lambda p: p.row),
        failed=sorted(parsed.failed, key=lambda p: p.row),
        unmapped=dict(parsed.unmapped),
        links_added=len(plan.links_to_add),
        links_removed=plan.links_removed,
        notes=parsed.notes,
    )
    if not dry_run:
        write_plan(session, plan)
        record(session, actor=actor, entity="import", entity_id=None, action="import",
               summary=report.summary(),
               after={"file": file_name, "kind": kind, **report.counts()})
        session.flush()
    return report
