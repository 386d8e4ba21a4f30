"""``flask import samhsa-csv|findtreatment|hsds PATH [--dry-run]`` and
``flask export csv PATH`` / ``flask export hsds DIR``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from tqdm import tqdm

from finder.extensions import db
from finder.transfer.exports import load_directory, write_csv
from finder.transfer.hsds_files import JSON_FILE, ZIP_FILE, json_chunks, write_zip
from finder.transfer.imports import ImportFileError, Progress, run_import

import_group = AppGroup("import", help="Import facilities from a file (idempotent; --dry-run).")
export_group = AppGroup("export", help="Export the directory as CSV or Open Referral HSDS.")
ACTOR_LENGTH = 254


class _Bar(Progress):
    """A tqdm progress bar on stderr, sized once the rows are counted."""

    def __init__(self) -> None:
        self.bar = tqdm(total=0, file=sys.stderr, unit="row", desc="Reading rows")

    def start(self, total: int) -> None:
        self.bar.reset(total=total)

    def advance(self) -> None:
        self.bar.update()

    def close(self) -> None:
        self.bar.close()


def _import(kind: str, path: Path, dry_run: bool, show: int) -> None:
    if not path.exists() or (kind != "hsds" and not path.is_file()):
        click.echo(f"Cannot read {path}: no such file.", err=True)
        raise click.exceptions.Exit(1)
    bar = _Bar()
    actor = f"cli:flask import {kind} {path}"[:ACTOR_LENGTH]
    try:
        report = run_import(db.session, kind, path, path.name, dry_run=dry_run, actor=actor,
                            progress=bar)
    except (ImportFileError, OSError) as exc:
        db.session.rollback()
        click.echo(f"Cannot import {path}: {exc}", err=True)
        raise click.exceptions.Exit(1) from None
    except Exception:
        db.session.rollback()
        raise
    finally:
        bar.close()
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    for line in report.lines(show):
        click.echo(line)


def _import_command(kind: str, help_text: str):
    @import_group.command(kind, help=help_text)
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Check every row and report; change nothing.")
    @click.option("--show-errors", default=20, show_default=True,
                  help="How many failed and skipped rows to list.")
    def command(path: Path, dry_run: bool, show_errors: int) -> None:
        _import(kind, path, dry_run, show_errors)

    return command


samhsa_csv_command = _import_command(
    "samhsa-csv",
    "Import the SAMHSA locator CSV layout (SubstanceUseTreatment_Geocoded.csv; the "
    "mental-health layout's phones and websites update listed facilities).",
)
findtreatment_command = _import_command(
    "findtreatment",
    "Import a FindTreatment.gov API JSON page (rows[] with services); service labels are "
    "mapped to codes and unmapped labels reported.",
)
hsds_command = _import_command(
    "hsds",
    "Import Open Referral HSDS 3.0: a folder (CSVs with datapackage.json, hsds.zip or "
    "hsds.json), a zip or a JSON file, as written by `flask export hsds`.",
)


@export_group.command("csv")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def export_csv(path: Path) -> None:
    """Write every facility's public fields to PATH (services as ";"-joined codes)."""
    try:
        with open(path, "w", encoding="utf-8", newline="") as stream:
            count = write_csv(db.session, stream)
    except OSError as exc:
        click.echo(f"Cannot write {path}: {exc.strerror}", err=True)
        raise click.exceptions.Exit(1) from None
    click.echo(f"Wrote {count:,} facilities to {path}.")


@export_group.command("hsds")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export_hsds(directory: Path) -> None:
    """Write DIRECTORY/hsds.json and DIRECTORY/hsds.zip (CSVs with a datapackage.json)."""
    data = load_directory(db.session)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / JSON_FILE, "w", encoding="utf-8") as stream:
            for chunk in json_chunks(data):
                stream.write(chunk)
        with open(directory / ZIP_FILE, "wb") as stream:
            counts = write_zip(data, stream)
    except OSError as exc:
        click.echo(f"Cannot write to {directory}: {exc.strerror}", err=True)
        raise click.exceptions.Exit(1) from None
    shown = ", ".join(f"{count:,} {table}" for table, count in counts.items())
    click.echo(f"Wrote {directory / JSON_FILE} and {directory / ZIP_FILE}: {shown}.")
