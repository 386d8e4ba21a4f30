"""The ZIP gazetteer (``zip_code``) from the ``zipcodes`` package.

``zipcodes`` holds its whole data set in memory once imported (about 140 MB), so it is imported
inside ``zip_rows`` only: the web app never loads it, only ``flask seed`` does.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from finder.geo.models import ZipCode
from finder.geo.names import city_key

BATCH = 5000
_COLUMNS = (
    "zip", "zip_type", "city", "city_key", "state", "county",
    "latitude", "longitude", "timezone", "active",
)


def zip_rows() -> list[dict]:
    """Every ZIP of the package as ``zip_code`` column dicts."""
    import zipcodes  # lazy on purpose: see the module docstring

    valid_zones = zoneinfo.available_timezones()
    rows = []
    for entry in zipcodes.list_all():
        city = (entry.get("city") or "").strip()
        timezone = (entry.get("timezone") or "").strip()
        rows.append(
            {
                "zip": entry["zip_code"],
                "zip_type": entry.get("zip_code_type") or "STANDARD",
                "city": city,
                "city_key": city_key(city),
                "state": entry["state"],
                "county": (entry.get("county") or "").strip() or None,
                "latitude": float(entry["lat"]),
                "longitude": float(entry["long"]),
                # One entry names a town ("Napakiak") instead of a zone: store no zone for it.
                "timezone": timezone if timezone in valid_zones else None,
                "active": bool(entry.get("active", True)),
            }
        )
    return rows


@dataclass(frozen=True)
class GazetteerResult:
    total: int
    created: int
    updated: int


def sync_zip_codes(session: Session, rows: list[dict] | None = None) -> GazetteerResult:
    """Insert missing ZIPs and update changed ones."""
    rows = zip_rows() if rows is None else rows
    existing = {
        r[0]: tuple(r)
        for r in session.execute(select(*(getattr(ZipCode, c) for c in _COLUMNS)))
    }
    new = [row for row in rows if row["zip"] not in existing]
    changed = [
        row
        for row in rows
        if row["zip"] in existing and existing[row["zip"]] != tuple(row[c] for c in _COLUMNS)
    ]
    for start in range(0, len(new), BATCH):
        session.execute(insert(ZipCode.__table__), new[start : start + BATCH])
    for start in range(0, len(changed), BATCH):
        session.execute(update(ZipCode), changed[start : start + BATCH])
    return GazetteerResult(total=len(rows), created=len(new), updated=len(changed))
