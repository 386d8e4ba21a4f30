"""Reading the locator's own formats row by row: its CSV download and its API's JSON.

Rows are collected into the seeder's in-memory ``Directory``, so a facility gets the same
``source_key`` as when ``flask seed`` loaded it (normalized name, street and 5-digit ZIP) and a
row repeating another row's name, street and ZIP collapses into it, as the seeder does.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field

from finder.seeding.contacts import fill_contacts
from finder.seeding.facilities import Directory, FacilityRecord
from finder.seeding.normalize import clean
from finder.seeding.readers import Listing
from finder.seeding.taxonomy import LabelIndex, codes_for_labels, split_labels
from finder.transfer.rows import (
    Candidate,
    Problem,
    RowError,
    carried_columns,
    check_contacts,
    listing_from,
    text,
)

#: Columns a CSV must have to be read as the locator's layout.
REQUIRED_COLUMNS = ("name1", "city", "state", "zip", "latitude", "longitude")
SUBSTANCE_USE = "SA"
MENTAL_HEALTH_SKIP = (
    "mental-health listing (typeFacility {kind}): the directory lists substance-use "
    "treatment facilities only"
)

class Progress:
    """Told how many rows a file has, then of each row read (the CLI draws a bar with it)."""

    def start(self, total: int) -> None:
        pass

    def advance(self) -> None:
        pass


class ImportFileError(ValueError):
    """The file cannot be read at all (not the expected format); ``str(error)`` says why."""


@dataclass
class Parsed:
    """What a file holds once read: facilities to match, and rows that were not."""

    rows: int = 0
    candidates: list[Candidate] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    failed: list[Problem] = field(default_factory=list)
    #: (category code, label) → the rows listing a service label no code was found for.
    unmapped: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    notes: list[str] = field(default_factory=list)


def decode(data: bytes) -> tuple[str, str]:
    """The file's text and encoding: UTF-8 (with or without a byte-order mark), else Latin-1
    (SAMHSA's opioid-program file is Latin-1; any byte string decodes as Latin-1)."""
    try:
        return data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "Latin-1"


class _Collector:
    """The seeder's Directory plus the row each facility came from."""

    def __init__(self, parsed: Parsed, data_source: str) -> None:
        self.parsed = parsed
        self.data_source = data_source
        self.directory = Directory()
        self.first_row: dict[str, int] = {}

    def repeated(self, listing: Listing) -> tuple[FacilityRecord, int] | None:
        record = self.directory.find(listing)
        return None if record is None else (record, self.first_row[record.source_key])

    def add(self, number: int, listing: Listing, carried: frozenset[str],
            contacts_only: bool = False) -> FacilityRecord:
        record = self.directory.add(listing, self.data_source)
        self.first_row[record.source_key] = number
        self.parsed.candidates.append(Candidate(
            row=number, record=record, contacts_only=contacts_only, carried=carried
        ))
        return record


def _csv_rows(text_data: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    reader = csv.reader(io.StringIO(text_data, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader)]
        rows = []
        for values in reader:
            if any(value.strip() for value in values):
                rows.append((reader.line_num, dict(zip(header, values, strict=False))))
    except StopIteration:
        raise ImportFileError("The file is empty.") from None
    except csv.Error as exc:
        raise ImportFileError(f"Line {reader.line_num} is not valid CSV: {exc}.") from None
    return header, rows


def parse_locator_csv(data: bytes, data_source: str, progress: Progress | None = None) -> Parsed:
    """The locator's CSV download layout (``SubstanceUseTreatment_Geocoded.csv``), and the
    mental-health layout with ``phone``, ``intake1``, ``website`` and ``type_facility``: its
    "MH" rows may update the phones and website of a listed facility, never add one."""
    text_data, encoding = decode(data)
    header, rows = _csv_rows(text_data)
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise ImportFileError(
            "This is not the SAMHSA locator CSV layout: it has no "
            + ", ".join(missing) + " column" + ("s" if len(missing) > 1 else "") + "."
        )
    parsed = Parsed(rows=len(rows))
    progress = progress or Progress()
    progress.start(len(rows))
    if encoding != "UTF-8":
        parsed.notes.append(f"The file is not UTF-8; it was read as {encoding}.")
    collector = _Collector(parsed, data_source)
    intake_column = "intake1" if "intake1" in header else "intake_phone"
    for number, fields in rows:
        progress.advance()
        name = text(fields, "name1") or ""
        kind = (text(fields, "type_facility") or SUBSTANCE_USE).upper()
        try:
            listing = listing_from(fields)
            contacts = check_contacts(
                fields.get("phone"), fields.get(intake_column), fields.get("website")
            )
        except RowError as exc:
            parsed.failed.append(Problem(number, name, str(exc)))
            continue
        repeated = collector.repeated(listing)
        if repeated:
            parsed.skipped.append(
                Problem(number, name, f"repeats row {repeated[1]} (same name, street and ZIP)")
            )
            continue
        record = collector.add(number, listing, carried_columns(fields, listing),
                               contacts_only=kind != SUBSTANCE_USE)
        fill_contacts(record, *contacts)
    return parsed


def _services(row: dict) -> list[dict]:
    services = row.get("services") or []
    if not isinstance(services, list) or not all(isinstance(s, dict) for s in services):
        raise RowError("services is not a list of {f1, f2, f3} objects")
    return services


def parse_api_json(
    data: bytes, data_source: str, index: LabelIndex, progress: Progress | None = None
) -> Parsed:
    """A page of the FindTreatment.gov API (``rows[]``; coordinates as strings; services as
    ``{f1: category name, f2: category code, f3: "label; label"}``). Labels are mapped back to
    codes through the taxonomy; labels without a code are reported, never guessed."""
    try:
        page = json.loads(decode(data)[0])
    except (ValueError, RecursionError) as exc:
        raise ImportFileError(f"This is not JSON: {exc}.") from None
    rows = page.get("rows") if isinstance(page, dict) else None
    if not isinstance(rows, list):
        raise ImportFileError(
            "This is not a FindTreatment.gov API response: it has no rows[] list."
        )
    parsed = Parsed(rows=len(rows))
    progress = progress or Progress()
    progress.start(len(rows))
    collector = _Collector(parsed, data_source)
    for number, row in enumerate(rows, start=1):
        progress.advance()
        if not isinstance(row, dict):
            parsed.failed.append(Problem(number, "", "the row is not a JSON object"))
            continue
        name = text(row, "name1") or ""
        kind = (text(row, "typeFacility") or SUBSTANCE_USE).upper()
        if kind != SUBSTANCE_USE:
            parsed.skipped.append(Problem(number, name, MENTAL_HEALTH_SKIP.format(kind=kind)))
            continue
        try:
            listing = listing_from(row)
            contacts = check_contacts(row.get("phone"), row.get("intake1"), row.get("website"))
            services = _services(row)
        except RowError as exc:
            parsed.failed.append(Problem(number, name, str(exc)))
            continue
        repeated = collector.repeated(listing)
        if repeated:
            record, first = repeated
            parsed.skipped.append(
                Problem(number, name, f"same facility as row {first}; its services were added")
            )
        else:
            record = collector.add(number, listing, carried_columns(row, listing))
            fill_contacts(record, *contacts)
        for service in services:
            category = (clean(str(service.get("f2") or "")) or "").upper()
            match = codes_for_labels(index, category, split_labels(str(service.get("f3") or "")))
            record.services.update(match.codes)
            for label in match.unmapped:
                parsed.unmapped[(category, label)].append(number)
    return parsed
