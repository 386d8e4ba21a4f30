"""The directory being seeded, held in memory: one record per facility, keyed by its listing.

Sources are merged here (substance-use file, OTP directory, phones, API sample) before anything
is written, so the database sees one bulk write per table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from finder.seeding.normalize import facility_key, source_key
from finder.seeding.readers import Listing

SUBSTANCE_USE_SOURCE = (
    "SAMHSA Treatment Locator substance use facilities (about 2021), geocoded by OEPS"
)
OTP_SOURCE = "SAMHSA Opioid Treatment Program directory, geocoded by OEPS"
API_SOURCE = "FindTreatment.gov API (2019)"


@dataclass
class FacilityRecord:
    """The seeded values of one facility (``source_key`` identifies it across runs)."""

    source_key: str
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
    data_source: str
    phone: str | None = None
    intake_phone: str | None = None
    website: str | None = None
    #: Service codes a source says the facility offers (empty: unknown, not "none").
    services: set[str] = field(default_factory=set)

    @classmethod
    def from_listing(cls, listing: Listing, key: str, data_source: str) -> FacilityRecord:
        return cls(
            source_key=key,
            name1=listing.name1,
            name2=listing.name2,
            street1=listing.street1,
            street2=listing.street2,
            city=listing.city,
            state=listing.state,
            zip=listing.zip,
            zip4=listing.zip4,
            county=listing.county,
            latitude=listing.latitude,
            longitude=listing.longitude,
            data_source=data_source,
        )


def placeable(listing: Listing) -> bool:
    """Whether a listing has what a directory entry needs: a name, a town and coordinates."""
    return bool(
        listing.name1
        and listing.city
        and len(listing.state) == 2
        and math.isfinite(listing.latitude)
        and math.isfinite(listing.longitude)
        and -90 <= listing.latitude <= 90
        and -180 <= listing.longitude <= 180
    )


class Directory:
    """Facility records in the order they were added, findable by normalized name, street, ZIP."""

    def __init__(self) -> None:
        self.records: dict[str, FacilityRecord] = {}
        self._by_listing: dict[tuple, FacilityRecord] = {}

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records.values())

    def find(self, listing: Listing) -> FacilityRecord | None:
        return self._by_listing.get(facility_key(listing.name1, listing.street1, listing.zip))

    def add(self, listing: Listing, data_source: str, key_prefix: str = "") -> FacilityRecord:
        natural = facility_key(listing.name1, listing.street1, listing.zip)
        key = source_key(natural, key_prefix)
        if key in self.records:
            return self.records[key]
        record = FacilityRecord.from_listing(listing, key, data_source)
        self.records[key] = record
        self._by_listing.setdefault(natural, record)
        return record


@dataclass(frozen=True)
class SubstanceUseResult:
    rows: int
    collapsed: int
    skipped: int


def load_substance_use(directory: Directory, listings: list[Listing]) -> SubstanceUseResult:
    """One facility per distinct name, street and ZIP; a repeated listing (another program of
    the same organization at the same address) collapses into the first one."""
    collapsed = skipped = 0
    for listing in listings:
        if not placeable(listing):
            skipped += 1
        elif directory.find(listing) is not None:
            collapsed += 1
        else:
            directory.add(listing, SUBSTANCE_USE_SOURCE)
    return SubstanceUseResult(rows=len(listings), collapsed=collapsed, skipped=skipped)
