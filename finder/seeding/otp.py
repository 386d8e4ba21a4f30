"""Merging the Opioid Treatment Program directory into the facilities already loaded.

Both files come from SAMHSA but spell names and addresses differently ("14th St. Clinic, 1124
International Blvd." against "1124 International Boulevard"), and their geocoders place one
address up to a few hundred metres apart. An OTP listing is taken to be a loaded facility in the
same ZIP when, trying each rule in turn:

1. they have the same street (compared loosely: case, punctuation, suite, "Blvd"/"Boulevard",
   "N"/"North", "2nd"/"Second"): the only facility there, or, in a building several share, the
   one whose name looks most like the program's (none alike: no match);
2. it lies within ``NEAR_MILES`` (0.05 mile, about 80 m) and has the same house number or a
   similar name;
3. it has the same house number and a similar name (at any distance inside the ZIP);
4. it has the same name (legal suffixes and punctuation aside) within ``SAME_NAME_MILES``.

"Similar name" means a shared distinctive word (not "treatment", "center", "inc"...) or one name
beginning the other. Coordinates alone are never enough: two clinics on one block are two
facilities, and the OTP service must not be given to the wrong one. A matched facility gets the
OTP service; an unmatched program is added as its own facility.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from finder.geo.distance import haversine_miles
from finder.seeding.facilities import OTP_SOURCE, Directory, FacilityRecord, placeable
from finder.seeding.normalize import compact_name, house_number, name_similarity, street_key
from finder.seeding.readers import Listing

#: The taxonomy's code (category OT) for "Federally-certified Opioid Treatment Program".
OTP_CODE = "OTP"
NEAR_MILES = 0.05
SAME_NAME_MILES = 0.25
#: Prefix of the source keys of facilities added from the OTP directory.
KEY_PREFIX = "otp|"


@dataclass(frozen=True)
class OtpResult:
    rows: int
    merged: int  #: programs matched to a facility of another source
    added: int  #: programs added as new facilities
    repeated: int  #: programs matched to a facility an earlier OTP row added
    skipped: int  #: rows without a usable name, place or coordinates


class PlaceIndex:
    """Facilities by (loose street, ZIP) and by ZIP."""

    def __init__(self, records) -> None:
        self.by_street: dict[tuple[str, str | None], list[FacilityRecord]] = defaultdict(list)
        self.by_zip: dict[str | None, list[FacilityRecord]] = defaultdict(list)
        for record in records:
            self.add(record)

    def add(self, record: FacilityRecord) -> None:
        self.by_street[(street_key(record.street1), record.zip)].append(record)
        self.by_zip[record.zip].append(record)


def match_program(listing: Listing, places: PlaceIndex) -> FacilityRecord | None:
    """The loaded facility this program is, or None (rules in the module docstring)."""
    if listing.zip is None:
        return None
    number = house_number(listing.street1)
    own_name = compact_name(listing.name1)

    def ranked(records, accept) -> FacilityRecord | None:
        best = None
        for record in records:
            miles = haversine_miles(
                listing.latitude, listing.longitude, record.latitude, record.longitude
            )
            similarity = name_similarity(listing.name1, record.name1, record.name2)
            if accept(record, miles, similarity):
                rank = (-similarity, miles, record.source_key)
                if best is None or rank < best[0]:
                    best = (rank, record)
        return best[1] if best else None

    same_street = places.by_street.get((street_key(listing.street1), listing.zip), [])
    if len(same_street) == 1:
        return same_street[0]
    if same_street:
        return ranked(same_street, lambda _r, _miles, similar: similar > 0)

    in_zip = places.by_zip.get(listing.zip, [])

    def same_number(record: FacilityRecord) -> bool:
        return number is not None and number == house_number(record.street1)

    return (
        ranked(
            in_zip,
            lambda r, miles, similar: miles <= NEAR_MILES and (similar > 0 or same_number(r)),
        )
        or ranked(in_zip, lambda r, _miles, similar: similar > 0 and same_number(r))
        or ranked(
            in_zip,
            lambda r, miles, _similar: miles <= SAME_NAME_MILES
            and bool(own_name)
            and own_name == compact_name(r.name1),
        )
    )


def merge_opioid_programs(directory: Directory, listings: list[Listing]) -> OtpResult:
    places = PlaceIndex(directory)
    added_keys: set[str] = set()
    merged = added = repeated = skipped = 0
    for listing in listings:
        if not placeable(listing):
            skipped += 1
            continue
        record = match_program(listing, places)
        if record is None:
            record = directory.add(listing, OTP_SOURCE, key_prefix=KEY_PREFIX)
            places.add(record)
            added_keys.add(record.source_key)
            added += 1
        elif record.source_key in added_keys:
            repeated += 1
        else:
            merged += 1
        record.services.add(OTP_CODE)
    return OtpResult(
        rows=len(listings), merged=merged, added=added, repeated=repeated, skipped=skipped
    )
