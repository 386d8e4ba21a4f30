"""``flask seed``: load the taxonomy, the ZIP gazetteer and the real facilities from ``seeds/``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

import finder
from finder.extensions import db
from finder.seeding.run import STEPS, seed_all


@click.command("seed")
@click.option("--quiet", is_flag=True, help="No progress bar and no summary.")
@click.option(
    "--seeds-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder of seed files (default: the repository's seeds/).",
)
@click.option(
    "--demo/--no-demo",
    default=None,
    help="Add the fictional demo pool and tracking numbers (default: yes, except in production).",
)
@with_appcontext
def seed_command(quiet: bool, seeds_dir: Path | None, demo: bool | None) -> None:
    """Load (or refresh) the directory from the seed files. Safe to run again."""
    seeds_dir = seeds_dir or finder.ROOT / "seeds"
    if demo is None:
        demo = bool(current_app.config.get("SEED_DEMO", True))
    started = time.perf_counter()
    with tqdm(total=len(STEPS), file=sys.stderr, disable=quiet, unit="step") as bar:
        bar.set_postfix_str(STEPS[0])

        def done(step: str) -> None:
            following = STEPS.index(step) + 1
            bar.set_postfix_str(STEPS[following] if following < len(STEPS) else "done", False)
            bar.update()

        try:
            report = seed_all(db.session, seeds_dir, done, demo=demo)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    if not quiet:
        for line in report.lines():
            click.echo(line)
        click.echo(f"Seeded in {time.perf_counter() - started:.1f} s.")
