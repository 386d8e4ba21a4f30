"""The locator's service taxonomy: loading it, and mapping the locator's labels back to codes.

``codes_for_labels`` is shared with importers of locator exports (which carry labels, not codes).
Labels are compared case-insensitively with spacing normalized: first within the category the
row names, then through ``seeds/service_label_aliases.csv`` (older locator wordings of existing
codes, such as 2019's "Individual counseling offered" for ICO), then in any category when only
one code there has that label. Anything else is reported unmapped, never guessed.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from finder import ROOT
from finder.directory.models import Service, ServiceCategory
from finder.seeding.normalize import clean, match_text
from finder.seeding.readers import read_service_codes

CODES_FILE = "samhsa_sa_service_codes_compiled.csv"
CATEGORIES_FILE = "service_categories.csv"
PLAIN_LABELS_FILE = "service_plain_labels.csv"
ALIASES_FILE = "service_label_aliases.csv"
#: Categories missing from service_categories.csv sort after the listed ones, in file order.
UNLISTED_POSITION = 1000


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def build_taxonomy(seeds_dir: Path) -> tuple[list[dict], list[dict]]:
    """Category and service rows (as column dicts) from the codes file and the plain wordings."""
    codes = read_service_codes(seeds_dir / CODES_FILE)
    headings = {row["code"]: row for row in _csv(seeds_dir / CATEGORIES_FILE)}
    plain = {row["code"]: clean(row["plain_label"]) for row in _csv(seeds_dir / PLAIN_LABELS_FILE)}

    names: dict[str, list[str]] = defaultdict(list)
    for code in codes:
        if code.category_name not in names[code.category_code]:
            names[code.category_code].append(code.category_name)
    categories = []
    for index, (category, category_names) in enumerate(names.items()):
        heading = headings.get(category, {})
        categories.append(
            {
                "code": category,
                # AUT and OM appear under two names (the treatment, and where its medication
                # comes from): one row keeps both.
                "name": " / ".join(category_names),
                "plain_name": clean(heading.get("plain_name")) or category_names[0],
                "position": int(heading["position"]) if heading else UNLISTED_POSITION + index,
            }
        )
    services = [
        {
            "code": code.code,
            "category_code": code.category_code,
            "label": code.label,
            "plain_label": plain.get(code.code) or code.label,
            "position": position,
            "confirmed": code.confirmed,
        }
        for position, code in enumerate(codes, start=1)
    ]
    return categories, services


def _sync(session: Session, model, key: str, rows: list[dict]) -> tuple[int, int]:
    """Insert missing rows and update changed ones; returns (created, updated)."""
    if not rows:
        return 0, 0
    names = list(rows[0])
    existing = {
        getattr(r, key): tuple(r)
        for r in session.execute(select(*(getattr(model, name) for name in names)))
    }
    new = [row for row in rows if row[key] not in existing]
    changed = [
        row
        for row in rows
        if row[key] in existing and existing[row[key]] != tuple(row[n] for n in names)
    ]
    if new:
        session.execute(insert(model), new)
    if changed:
        session.execute(update(model), changed)
    return len(new), len(changed)


def sync_taxonomy(session: Session, seeds_dir: Path) -> tuple[int, int]:
    """Load ``service_category`` and ``service``; returns (category count, service count)."""
    categories, services = build_taxonomy(seeds_dir)
    _sync(session, ServiceCategory, "code", categories)
    _sync(session, Service, "code", services)
    return len(categories), len(services)


@dataclass
class LabelIndex:
    """Look-up tables from a normalized label to service codes."""

    in_category: dict[tuple[str, str], str] = field(default_factory=dict)
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)
    anywhere: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def build(
        cls,
        services: Iterable[tuple[str, str, str]],
        aliases: Iterable[tuple[str, str, str]] = (),
    ) -> LabelIndex:
        """``services``: (code, category code, label); ``aliases``: (category, label, code)."""
        index = cls()
        known = set()
        for code, category, label in services:
            known.add(code)
            index.in_category.setdefault((category.upper(), match_text(label)), code)
            index.anywhere[match_text(label)].add(code)
        for category, label, code in aliases:
            if code in known:
                index.aliases[(category.upper(), match_text(label))] = code
        return index

    @classmethod
    def from_session(cls, session: Session, seeds_dir: Path | None = None) -> LabelIndex:
        """The index of the services in the database, with the aliases file of ``seeds_dir``
        (default: the repository's ``seeds/``)."""
        seeds_dir = seeds_dir or ROOT / "seeds"
        services = session.execute(select(Service.code, Service.category_code, Service.label))
        aliases: list[tuple[str, str, str]] = []
        if (seeds_dir / ALIASES_FILE).exists():
            aliases = [
                (row["category_code"], row["label"], row["code"].strip())
                for row in _csv(seeds_dir / ALIASES_FILE)
            ]
        return cls.build(services, aliases)

    def code_for(self, category: str | None, label: str) -> str | None:
        key = match_text(label)
        category = (category or "").upper()
        code = self.in_category.get((category, key)) or self.aliases.get((category, key))
        if code:
            return code
        candidates = self.anywhere.get(key, set())
        return next(iter(candidates)) if len(candidates) == 1 else None


@dataclass(frozen=True)
class LabelMatch:
    codes: list[str]
    unmapped: list[str]


def split_labels(text: str | None) -> list[str]:
    """The locator's ``"label; label; ..."`` string as a list of labels."""
    return [part.strip() for part in (text or "").split(";") if part.strip()]


def codes_for_labels(index: LabelIndex, category: str | None, labels: Iterable[str]) -> LabelMatch:
    """Service codes for locator labels of one category; labels it cannot map come back apart."""
    codes: list[str] = []
    unmapped: list[str] = []
    for label in labels:
        code = index.code_for(category, label)
        if code is None:
            unmapped.append(label)
        elif code not in codes:
            codes.append(code)
    return LabelMatch(codes=codes, unmapped=unmapped)
