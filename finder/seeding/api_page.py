"""Merging a page of the FindTreatment API (the 2019 Charlottesville sample) into the directory.

Each substance-use row (``typeFacility`` "SA") is merged with the facility of the same
normalized name, street and ZIP, or added; its service labels are mapped back to codes through
the taxonomy and linked. A mental-health row ("MH") describes the facility's mental-health
listing: when it matches a loaded facility it may fill a missing phone or website, but its
services are not linked (they describe the mental-health program) and an unmatched one is not
added (the directory lists substance-use treatment only).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from finder.seeding.contacts import fill_contacts
from finder.seeding.facilities import API_SOURCE, Directory, placeable
from finder.seeding.readers import ApiListing
from finder.seeding.taxonomy import LabelIndex, codes_for_labels, split_labels

SUBSTANCE_USE = "SA"


@dataclass
class ApiResult:
    rows: int = 0
    merged: int = 0
    added: int = 0
    skipped_mental_health: int = 0
    skipped: int = 0
    phones: int = 0
    websites: int = 0
    labels_mapped: int = 0
    #: (category, label) pairs no code was found for, with how many rows listed them.
    unmapped: Counter = field(default_factory=Counter)

    @property
    def labels_unmapped(self) -> int:
        return sum(self.unmapped.values())


def merge_api_page(directory: Directory, rows: list[ApiListing], index: LabelIndex) -> ApiResult:
    result = ApiResult(rows=len(rows))
    for row in rows:
        substance_use = (row.facility_type or SUBSTANCE_USE).upper() == SUBSTANCE_USE
        record = directory.find(row)
        if record is None:
            if not substance_use:
                result.skipped_mental_health += 1
                continue
            if not placeable(row):
                result.skipped += 1
                continue
            record = directory.add(row, API_SOURCE)
            result.added += 1
        else:
            result.merged += 1
        got_phone, _, got_site = fill_contacts(record, row.phone, row.intake1, row.website)
        result.phones += got_phone
        result.websites += got_site
        if not substance_use:
            continue
        for service in row.services:
            labels = split_labels(service.labels)
            match = codes_for_labels(index, service.category_code, labels)
            record.services.update(match.codes)
            result.labels_mapped += len(labels) - len(match.unmapped)
            result.unmapped.update((service.category_code, label) for label in match.unmapped)
    return result
