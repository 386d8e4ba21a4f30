"""Readers for the SAMHSA seed files, each handling its file's quirks (see the data README).

Every reader takes a path or a binary file object, so tests can feed it a few bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from finder.seeding.normalize import clean, pad_zip4, zip4_of, zip5

Source = Path | str | IO[bytes]


@dataclass(frozen=True)
class Listing:
    """One facility row of a source file, cleaned (ZIPs padded, blanks and ``NA`` → None)."""

    name1: str
    name2: str | None
    street1: str | None
    street2: str | None
    city: str
    state: str
    zip: str | None
    zip4: str | None
    county: str | None
    latitude: float
    longitude: float


@dataclass(frozen=True)
class MentalHealthListing(Listing):
    phone: str | None = None
    intake1: str | None = None
    website: str | None = None


@dataclass(frozen=True)
class ApiService:
    category_code: str
    category_name: str
    labels: str  # the locator's "label; label; ..." string (f3)


@dataclass(frozen=True)
class ApiListing(Listing):
    facility_type: str | None = None  # "SA" (substance use) or "MH" (mental health)
    phone: str | None = None
    intake1: str | None = None
    website: str | None = None
    services: tuple[ApiService, ...] = ()


@dataclass(frozen=True)
class ServiceCode:
    category_code: str
    category_name: str
    code: str
    label: str
    #: True when a second source confirmed the code (any of the file's cross-check columns
    #: other than the live-API one).
    confirmed: bool


_CONFIRMING_COLUMNS = (
    "code_in_2017_directory_keys",
    "code_in_directory_legend_codebook",
    "code_in_official_MH_dictionary",
)


def _text(source: Source, encoding: str) -> io.TextIOBase:
    if isinstance(source, str | Path):
        return open(source, encoding=encoding, newline="")
    return io.TextIOWrapper(source, encoding=encoding, newline="")


def _rows(source: Source, encoding: str = "utf-8") -> Iterator[dict[str, str]]:
    with _text(source, encoding) as stream:
        yield from csv.DictReader(stream)


def _float(value: str | None) -> float:
    return float(clean(value) or "nan")


def _locator_fields(row: dict[str, str]) -> dict:
    """The columns the locator's substance-use and mental-health downloads share."""
    return dict(
        name1=clean(row["name1"]) or "",
        name2=clean(row["name2"]),
        street1=clean(row["street1"]),
        street2=clean(row["street2"]),
        city=clean(row["city"]) or "",
        state=(clean(row["state"]) or "").upper(),
        zip=zip5(row["zip"]),
        zip4=pad_zip4(row["zip4"]),
        county=clean(row["county"]),
        latitude=_float(row["latitude"]),
        longitude=_float(row["longitude"]),
    )


def read_substance_use(source: Source) -> list[Listing]:
    """``SubstanceUseTreatment_Geocoded.csv`` (UTF-8; 4- and 3-digit ZIPs, short zip4s)."""
    return [Listing(**_locator_fields(row)) for row in _rows(source)]


def read_opioid_programs(source: Source) -> list[Listing]:
    """``OpioidTreatmentProgram_Geocoded.csv``: Latin-1, ``POSTAL`` lost its leading zeros and
    sometimes carries ZIP+4; ``ID`` is the program's name and ``ADDRESS`` may hold a suite."""
    return [
        Listing(
            name1=clean(row["ID"]) or "",
            name2=None,
            street1=clean(row["ADDRESS"]),
            street2=None,
            city=clean(row["CITY"]) or "",
            state=(clean(row["STATE"]) or "").upper(),
            zip=zip5(row["POSTAL"]),
            zip4=zip4_of(row["POSTAL"]),
            county=None,
            latitude=_float(row["Latitude"]),
            longitude=_float(row["Longitude"]),
        )
        for row in _rows(source, encoding="latin-1")
    ]


def read_mental_health(source: Source) -> list[MentalHealthListing]:
    """``MentalHealthProviders_Geocoded.csv``: R's ``NA`` for missing values, integer ZIPs."""
    return [
        MentalHealthListing(
            **_locator_fields(row),
            phone=clean(row["phone"]),
            intake1=clean(row["intake1"]),
            website=clean(row["website"]),
        )
        for row in _rows(source)
    ]


def read_api_page(source: Source) -> list[ApiListing]:
    """A page of the FindTreatment API's JSON: coordinates are strings, services are labels."""
    if isinstance(source, str | Path):
        page = json.loads(Path(source).read_text(encoding="utf-8"))
    else:
        page = json.load(source)
    return [
        ApiListing(
            name1=clean(row.get("name1")) or "",
            name2=clean(row.get("name2")),
            street1=clean(row.get("street1")),
            street2=clean(row.get("street2")),
            city=clean(row.get("city")) or "",
            state=(clean(row.get("state")) or "").upper(),
            zip=zip5(str(row.get("zip") or "")),
            zip4=None,
            county=clean(row.get("county")),
            latitude=_float(row.get("latitude")),
            longitude=_float(row.get("longitude")),
            facility_type=clean(row.get("typeFacility")),
            phone=clean(row.get("phone")),
            intake1=clean(row.get("intake1")),
            website=clean(row.get("website")),
            services=tuple(
                ApiService(
                    category_code=(clean(s.get("f2")) or "").upper(),
                    category_name=clean(s.get("f1")) or "",
                    labels=s.get("f3") or "",
                )
                for s in row.get("services") or ()
            ),
        )
        for row in page.get("rows", ())
    ]


def read_service_codes(source: Source) -> list[ServiceCode]:
    """``samhsa_sa_service_codes_compiled.csv``, in file order."""
    return [
        ServiceCode(
            category_code=row["f2_category_code"].strip(),
            category_name=clean(row["category_name"]) or "",
            code=row["service_code"].strip(),
            label=clean(row["service_label"]) or "",
            confirmed=any(row.get(c, "").strip().lower() == "true" for c in _CONFIRMING_COLUMNS),
        )
        for row in _rows(source)
    ]
