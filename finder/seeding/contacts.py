"""Phones and websites for loaded facilities, from the mental-health file's listings.

The substance-use file has no phones. A facility takes the phone and website of the
mental-health listing with the same normalized name and street (in the same state; a listing in
the same ZIP is preferred, then file order). Mental-health-only listings are never added.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from finder.seeding.facilities import Directory, FacilityRecord
from finder.seeding.normalize import match_text
from finder.seeding.phones import normalize_phone, normalize_website
from finder.seeding.readers import MentalHealthListing


@dataclass(frozen=True)
class ContactsResult:
    rows: int
    matched: int  #: facilities with at least one mental-health listing of the same name, street
    phones: int  #: facilities given a phone
    intake_phones: int
    websites: int


def contacts_from(
    phone: str | None, intake: str | None, website: str | None
) -> tuple[str | None, str | None, str | None]:
    """(phone, intake phone, website) normalized; the intake phone only when it differs."""
    main = normalize_phone(phone)
    intake_phone = normalize_phone(intake)
    return main, (intake_phone if intake_phone != main else None), normalize_website(website)


def fill_contacts(
    record: FacilityRecord, phone: str | None, intake: str | None, website: str | None
) -> tuple[bool, bool, bool]:
    """Set the phones (when the record has no phone) and website (when it has none)."""
    main, intake_phone, site = contacts_from(phone, intake, website)
    got_phone = got_intake = got_site = False
    if record.phone is None and record.intake_phone is None and (main or intake_phone):
        record.phone, record.intake_phone = main, intake_phone
        got_phone, got_intake = main is not None, intake_phone is not None
    if record.website is None and site:
        record.website = site
        got_site = True
    return got_phone, got_intake, got_site


def join_mental_health_contacts(
    directory: Directory, listings: list[MentalHealthListing]
) -> ContactsResult:
    by_name_street: dict[tuple[str, str], list[MentalHealthListing]] = defaultdict(list)
    for listing in listings:
        by_name_street[(match_text(listing.name1), match_text(listing.street1))].append(listing)

    matched = phones = intakes = websites = 0
    for record in directory:
        candidates = [
            c
            for c in by_name_street.get((match_text(record.name1), match_text(record.street1)), ())
            if c.state == record.state
        ]
        if not candidates:
            continue
        matched += 1
        # Same ZIP first; sorted() is stable, so file order breaks ties.
        candidates.sort(key=lambda c: c.zip != record.zip)
        for candidate in candidates:
            got_phone, got_intake, _ = fill_contacts(
                record, candidate.phone, candidate.intake1, None
            )
            if got_phone or got_intake:
                phones += got_phone
                intakes += got_intake
                break
        for candidate in candidates:
            if fill_contacts(record, None, None, candidate.website)[2]:
                websites += 1
                break
    return ContactsResult(
        rows=len(listings), matched=matched, phones=phones, intake_phones=intakes,
        websites=websites,
    )
