"""HSDS files: a zip of CSVs described by a Frictionless ``datapackage.json``, and one JSON
object holding every table (the shape of HSDS's ``schema/compiled/tabular.json``); and reading
them back (a zip, a folder of CSVs with their ``datapackage.json``, or the JSON).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from finder.transfer.exports import DirectoryData, cell
from finder.transfer.hsds import TABLES, TABLES_BY_NAME, Table, table_rows
from finder.transfer.sources import ImportFileError, decode

DATAPACKAGE = "datapackage.json"
JSON_FILE = "hsds.json"
ZIP_FILE = "hsds.zip"
#: A zip whose CSVs would unpack to more than this is refused (a "zip bomb").
MAX_UNPACKED_BYTES = 512 * 1024 * 1024


def datapackage() -> dict:
    """The Frictionless tabular data package descriptor of the CSVs."""
    resources = []
    for table in TABLES:
        fields = []
        for field in table.fields:
            described = {"name": field.name, "type": field.type}
            if field.format:
                described["format"] = field.format
            constraints = {}
            if field.required:
                constraints["required"] = True
            if field.name == "id":
                constraints["unique"] = True
            if field.enum:
                constraints["enum"] = list(field.enum)
            if constraints:
                described["constraints"] = constraints
            fields.append(described)
        schema: dict = {"fields": fields, "primaryKey": "id"}
        if table.foreign_keys:
            schema["foreignKeys"] = [
                {"fields": name, "reference": {"resource": target, "fields": "id"}}
                for name, target in table.foreign_keys
            ]
        resources.append({
            "name": table.name, "path": table.path, "description": table.description,
            "profile": "tabular-data-resource", "format": "csv", "mediatype": "text/csv",
            "encoding": "utf-8", "schema": schema,
        })
    return {
        "name": "finder-directory-hsds",
        "title": "finder treatment directory, as Open Referral HSDS 3.0",
        "profile": "tabular-data-package",
        "sources": [{
            "title": "SAMHSA Behavioral Health Treatment Services Locator (findtreatment.gov)",
            "path": "https://findtreatment.gov",
        }],
        "resources": resources,
    }


def _csv_text(table: Table, rows) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    names = [field.name for field in table.fields]
    writer.writerow(names)
    for count, row in enumerate(rows, start=1):
        writer.writerow([cell(row[name]) for name in names])
        if count % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _member(name: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed time, so the same directory always exports the same bytes (a
    member stamped with the clock changed with every export, two seconds apart)."""
    member = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    member.compress_type = zipfile.ZIP_DEFLATED
    member.external_attr = 0o644 << 16
    return member


def write_zip(directory: DirectoryData, stream: IO[bytes]) -> dict[str, int]:
    """The CSVs and ``datapackage.json`` as a zip; returns the row count of each table."""
    counts: dict[str, int] = {}
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_member(DATAPACKAGE), json.dumps(datapackage(), indent=2) + "\n")
        for table in TABLES:
            rows = list(table_rows(directory, table.name))
            counts[table.name] = len(rows)
            with archive.open(_member(table.path), "w") as member:
                for text in _csv_text(table, rows):
                    member.write(text.encode("utf-8"))
    return counts


def json_chunks(directory: DirectoryData) -> Iterator[str]:
    """Every table as one JSON object ``{"organization": [...], "service": [...], ...}``."""
    yield "{"
    for position, table in enumerate(TABLES):
        yield ("," if position else "") + f"\n{json.dumps(table.name)}: ["
        for count, row in enumerate(table_rows(directory, table.name)):
            yield ("," if count else "") + "\n  " + json.dumps(row, ensure_ascii=False)
        yield "\n]"
    yield "\n}\n"


# Reading


def _read_csv(data: bytes, name: str) -> list[dict]:
    try:
        return list(csv.DictReader(io.StringIO(decode(data)[0], newline="")))
    except csv.Error as exc:
        raise ImportFileError(f"{name} is not valid CSV: {exc}.") from None


def _paths(listing: set[str], descriptor: bytes | None) -> dict[str, str]:
    """Table name → file name, from the package descriptor when there is one."""
    paths = {}
    if descriptor is not None:
        try:
            resources = json.loads(decode(descriptor)[0]).get("resources", [])
            paths = {r["name"]: r["path"] for r in resources if r.get("name") in TABLES_BY_NAME}
        except (ValueError, AttributeError, KeyError, TypeError):
            raise ImportFileError(f"{DATAPACKAGE} is not a valid data package.") from None
    for table in TABLES:
        if table.name not in paths:
            for candidate in (table.path, f"{table.name}.csv"):
                if candidate in listing:
                    paths[table.name] = candidate
                    break
    return {name: path for name, path in paths.items() if path in listing}


def _read_zip(data: bytes) -> dict[str, list[dict]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ImportFileError("This is not a valid zip file.") from None
    with archive:
        infos = {info.filename: info for info in archive.infolist()}
        try:
            descriptor = archive.read(DATAPACKAGE) if DATAPACKAGE in infos else None
            paths = _paths(set(infos), descriptor)
            if sum(infos[path].file_size for path in paths.values()) > MAX_UNPACKED_BYTES:
                raise ImportFileError("The zip unpacks to more than the import limit.")
            # A member is read no further than the size its header declares.
            return {name: _read_csv(archive.read(path), path) for name, path in paths.items()}
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            raise ImportFileError(f"The zip is damaged: {exc}.") from None


def _read_json(data: bytes) -> dict[str, list[dict]]:
    try:
        tables = json.loads(decode(data)[0])
    except (ValueError, RecursionError) as exc:
        raise ImportFileError(f"This is not JSON: {exc}.") from None
    if not isinstance(tables, dict) or not all(
        isinstance(rows, list) and all(isinstance(row, dict) for row in rows)
        for name, rows in tables.items()
        if name in TABLES_BY_NAME
    ):
        raise ImportFileError(
            'This is not HSDS tabular JSON: expected {"organization": [...], ...}.'
        )
    return {name: rows for name, rows in tables.items() if name in TABLES_BY_NAME}


def read_tables(source: Path | bytes) -> dict[str, list[dict]]:
    """HSDS tables from a zip or JSON (bytes or a file), or a folder holding CSVs and their
    ``datapackage.json``, ``hsds.zip`` or ``hsds.json``. OSError when a file cannot be read."""
    if isinstance(source, bytes):
        return _read_zip(source) if zipfile.is_zipfile(io.BytesIO(source)) else _read_json(source)
    if not source.is_dir():
        return read_tables(source.read_bytes())
    listing = {p.name for p in source.iterdir() if p.is_file()}
    if DATAPACKAGE in listing or any(name.endswith(".csv") for name in listing):
        descriptor = (source / DATAPACKAGE).read_bytes() if DATAPACKAGE in listing else None
        paths = _paths(listing, descriptor)
        return {name: _read_csv((source / path).read_bytes(), path) for name, path in paths.items()}
    for name in (ZIP_FILE, JSON_FILE):
        if name in listing:
            return read_tables((source / name).read_bytes())
    raise ImportFileError(f"{source} holds no HSDS files ({DATAPACKAGE}, {ZIP_FILE}, {JSON_FILE}).")
