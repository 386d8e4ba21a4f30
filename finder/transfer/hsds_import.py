"""Reading HSDS tables back into facilities: one facility per physical location.

A location's facility takes its organization's name and website, its first physical address,
its phones (described "Intake" for the intake line), the status and assured date of its
services and their SAMHSA locator codes (through attributes and taxonomy terms). Its
``source_key`` is the ``external_identifier`` finder exported, or ``hsds:<location id>`` for a
location from elsewhere, so importing a file again updates rather than duplicates; a new
facility keeps the slug of ``organization.uri`` (``urn:finder:facility:<slug>``) when it is free.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from finder.directory.models import FacilityStatus
from finder.seeding.contacts import fill_contacts
from finder.seeding.facilities import FacilityRecord
from finder.transfer.hsds import INTAKE_PHONE, SOURCE_PREFIX
from finder.transfer.identifiers import FACILITY_URI_PREFIX, SOURCE_KEY_TYPE
from finder.transfer.rows import Candidate, Problem, RowError, check_contacts, listing_from, text
from finder.transfer.sources import ImportFileError, Parsed, Progress

SOURCE_KEY_LENGTH = 64
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SLUG_LENGTH = 200


def _by(rows: Iterable[dict], key: str) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        value = text(row, key)
        if value:
            grouped[value].append(row)
    return grouped


def _first(rows: Iterable[dict], key: str) -> dict[str, dict]:
    return {value: group[0] for value, group in _by(rows, key).items()}


def _source_key(location: dict, location_id: str) -> str:
    external = text(location, "external_identifier")
    if external and text(location, "external_identifier_type") == SOURCE_KEY_TYPE:
        return external[:SOURCE_KEY_LENGTH]
    key = f"hsds:{location_id}"
    if len(key) > SOURCE_KEY_LENGTH:
        key = "hsds:" + hashlib.sha1(location_id.encode("utf-8")).hexdigest()
    return key


def _slug(organization: dict) -> str | None:
    uri = text(organization, "uri") or ""
    slug = uri.removeprefix(FACILITY_URI_PREFIX)
    if uri.startswith(FACILITY_URI_PREFIX) and len(slug) <= SLUG_LENGTH and _SLUG.fullmatch(slug):
        return slug
    return None


def _phone_text(phone: dict | None) -> str | None:
    if phone is None:
        return None
    number, extension = text(phone, "number"), text(phone, "extension")
    if number and extension:
        extension = extension.removesuffix(".0")
        return f"{number};ext={extension}"
    return number


def _phones(candidates: list[dict]) -> tuple[str | None, str | None]:
    """(main, intake): the intake line is the phone described "Intake"."""
    intake = next(
        (p for p in candidates if (text(p, "description") or "").lower() == INTAKE_PHONE.lower()),
        None,
    )
    main = next((p for p in candidates if p is not intake), None)
    return _phone_text(main), _phone_text(intake)


def _assured(services: list[dict]) -> date | None:
    dates = []
    for service in services:
        value = text(service, "assured_date")
        if value:
            try:
                dates.append(date.fromisoformat(value[:10]))
            except ValueError:
                raise RowError(f"assured_date {value!r} is not a date") from None
    return max(dates, default=None)


def parse_hsds(
    tables: dict[str, list[dict]],
    default_source: str,
    known_codes: set[str],
    category_codes: set[str],
    progress: Progress | None = None,
) -> Parsed:
    locations = tables.get("location") or []
    if not locations:
        raise ImportFileError("The HSDS data has no locations.")
    organizations = _first(tables.get("organization", []), "id")
    services = _first(tables.get("service", []), "id")
    services_of_org = _by(tables.get("service", []), "organization_id")
    addresses = _by(tables.get("address", []), "location_id")
    phone_rows = tables.get("phone", [])
    phones = {key: _by(phone_rows, key) for key in ("location_id", "service_id", "organization_id")}
    at_location = _by(tables.get("service_at_location", []), "location_id")
    terms = _first(tables.get("taxonomy_term", []), "id")
    attributes = _by(
        (a for a in tables.get("attribute", []) if (text(a, "link_entity") or "service") ==
         "service"),
        "link_id",
    )

    parsed = Parsed(rows=len(locations))
    progress = progress or Progress()
    progress.start(len(locations))
    for number, location in enumerate(locations, start=1):
        progress.advance()
        location_id = text(location, "id") or ""
        organization = organizations.get(text(location, "organization_id") or "", {})
        name = text(organization, "name") or text(location, "name") or ""
        if (text(location, "location_type") or "physical") != "physical":
            parsed.skipped.append(Problem(number, name, "not a physical location"))
            continue
        own = [services[s] for link in at_location.get(location_id, [])
               if (s := text(link, "service_id") or "") in services]
        own = own or services_of_org.get(text(organization, "id") or "", [])
        place = addresses.get(location_id, [])
        address = next((a for a in place if text(a, "address_type") in (None, "physical")), {})
        numbers = (
            phones["location_id"].get(location_id)
            or [p for s in own for p in phones["service_id"].get(text(s, "id") or "", [])]
            or phones["organization_id"].get(text(organization, "id") or "", [])
        )
        website = text(organization, "website") or next(
            (text(s, "url") for s in own if text(s, "url")), None
        )
        fields = {
            "name1": name,
            "name2": text(organization, "alternate_name") or text(location, "alternate_name"),
            "street1": text(address, "address_1"), "street2": text(address, "address_2"),
            "city": text(address, "city"), "state": text(address, "state_province"),
            "zip": text(address, "postal_code"), "county": text(address, "region"),
            "latitude": location.get("latitude"), "longitude": location.get("longitude"),
        }
        try:
            if not location_id:
                raise RowError("the location has no id")
            listing = listing_from(fields)
            contacts = check_contacts(*_phones(numbers), website)
            verified = _assured(own)
        except RowError as exc:
            parsed.failed.append(Problem(number, name, str(exc)))
            continue
        description = text(organization, "description") or ""
        data_source = (
            description[len(SOURCE_PREFIX):]
            if description.startswith(SOURCE_PREFIX) else default_source
        )[:300]
        record = FacilityRecord.from_listing(listing, _source_key(location, location_id),
                                             data_source)
        fill_contacts(record, *contacts)
        for service in own:
            for attribute in attributes.get(text(service, "id") or "", []):
                term = terms.get(text(attribute, "taxonomy_term_id") or "", {})
                code = text(term, "code") or ""
                if code in known_codes:
                    record.services.add(code)
                elif code not in category_codes:
                    parsed.unmapped[(code, text(term, "name") or "")].append(number)
        statuses = {(text(s, "status") or "active").lower() for s in own}
        active = not own or "active" in statuses
        parsed.candidates.append(Candidate(
            row=number, record=record, authoritative=True, location_id=location_id,
            slug=_slug(organization),
            extra={
                "status": FacilityStatus.ACTIVE if active else FacilityStatus.CLOSED,
                "last_verified_on": verified,
            },
        ))
    return parsed
