"""The directory as Open Referral HSDS 3.0 records: one organization, service, location and
address per facility, its phones, the SAMHSA locator codes as a taxonomy, and attributes
linking each service to its codes.

Field names follow HSDS 3.0's schema (``schema/compiled/tabular.json`` in openreferral/
specification); CSV file names follow its tabular data package (``organizations.csv``...).
Only directory data is written: no notes, no caller data, nothing about accounts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from finder.directory.models import FacilityStatus
from finder.transfer.exports import utc_text
from finder.transfer.identifiers import (
    FACILITY_URI_PREFIX,
    SOURCE_KEY_TYPE,
    attribute_id,
    facility_ids,
    phone_id,
    taxonomy_id,
    term_id,
)

TAXONOMY_NAME = "SAMHSA Treatment Locator service codes"
TAXONOMY_DESCRIPTION = (
    "The service codes of SAMHSA's Behavioral Health Treatment Services Locator "
    "(findtreatment.gov): categories (the locator's f2 codes) and, under each, the service codes "
    "with the locator's labels. Term descriptions are finder's plain-language labels."
)
TAXONOMY_URI = "https://findtreatment.gov"
#: Organization descriptions say where the listing came from: "Source: <data source>".
SOURCE_PREFIX = "Source: "
MAIN_PHONE, INTAKE_PHONE = "Main", "Intake"
STATUS_TO_HSDS = {FacilityStatus.ACTIVE: "active", FacilityStatus.CLOSED: "inactive"}


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "string"
    format: str | None = None
    required: bool = False
    enum: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    path: str
    description: str
    fields: tuple[Field, ...]
    #: (field, referenced table); "" references the table itself
    foreign_keys: tuple[tuple[str, str], ...] = ()


def _id() -> Field:
    return Field("id", format="uuid", required=True)


def _ref(name: str) -> Field:
    return Field(name, format="uuid")


PLACE_TYPES = ("physical", "postal", "virtual")
TABLES = (
    Table("organization", "organizations.csv", "One per facility: its name and website.", (
        _id(), Field("name", required=True), Field("alternate_name"),
        Field("description", required=True), Field("email", format="email"),
        Field("website", format="uri"), Field("uri", format="uri"),
    )),
    Table("service", "services.csv", "One per facility: the treatment it offers, its status "
          "and when finder last verified it.", (
        _id(), _ref("organization_id"), Field("name", required=True), Field("alternate_name"),
        Field("description"), Field("url", format="uri"), Field("email", format="email"),
        Field("status", required=True,
              enum=("active", "inactive", "defunct", "temporarily closed")),
        Field("assured_date", type="date"), Field("last_modified", type="datetime"),
    ), (("organization_id", "organization"),)),
    Table("location", "locations.csv", "One per facility: where it is.", (
        _id(), Field("location_type", required=True, enum=PLACE_TYPES),
        _ref("organization_id"), Field("name"), Field("alternate_name"), Field("description"),
        Field("latitude", type="number"), Field("longitude", type="number"),
        Field("external_identifier"), Field("external_identifier_type"),
    ), (("organization_id", "organization"),)),
    Table("address", "addresses.csv", "The street address of each location.", (
        _id(), _ref("location_id"), Field("attention"), Field("address_1", required=True),
        Field("address_2"), Field("city", required=True), Field("region"),
        Field("state_province", required=True), Field("postal_code", required=True),
        Field("country", required=True), Field("address_type", required=True, enum=PLACE_TYPES),
    ), (("location_id", "location"),)),
    Table("phone", "phones.csv", "The main and intake numbers of each location.", (
        _id(), _ref("location_id"), _ref("service_id"), _ref("organization_id"),
        Field("number", required=True), Field("extension", type="number"), Field("type"),
        Field("description"),
    ), (("location_id", "location"),)),
    Table("service_at_location", "service_at_location.csv", "Each service at its location.", (
        _id(), _ref("service_id"), _ref("location_id"), Field("description"),
    ), (("service_id", "service"), ("location_id", "location"))),
    Table("taxonomy", "taxonomies.csv", "The SAMHSA locator's service codes.", (
        _id(), Field("name", required=True), Field("description", required=True),
        Field("uri", format="uri"), Field("version"),
    )),
    Table("taxonomy_term", "taxonomy_terms.csv", "The locator's categories and, under them, "
          "its service codes.", (
        _id(), Field("code"), Field("name", required=True), Field("description", required=True),
        _ref("parent_id"), Field("taxonomy"), Field("language"), _ref("taxonomy_id"),
        Field("term_uri", format="uri"),
    ), (("taxonomy_id", "taxonomy"), ("parent_id", ""))),
    Table("attribute", "attributes.csv", "The service codes of each service.", (
        _id(), _ref("link_id"), _ref("taxonomy_term_id"), Field("link_type"),
        Field("link_entity"), Field("value"),
    ), (("taxonomy_term_id", "taxonomy_term"),)),
)
TABLES_BY_NAME = {table.name: table for table in TABLES}


def split_phone(stored: str) -> tuple[str, int | None]:
    """``"+18602763000;ext=301"`` (as finder stores numbers) → ``("+18602763000", 301)``."""
    number, _, extension = stored.partition(";ext=")
    return number, int(extension) if extension.isdigit() else None


def _organization(f, ids: dict[str, str], codes: list[str]) -> list[dict]:
    return [{
        "id": ids["organization"], "name": f.name1, "alternate_name": f.name2,
        "description": SOURCE_PREFIX + f.data_source, "email": None, "website": f.website,
        "uri": FACILITY_URI_PREFIX + f.slug,
    }]


def _service(f, ids: dict[str, str], codes: list[str]) -> list[dict]:
    return [{
        "id": ids["service"], "organization_id": ids["organization"], "name": f.name1,
        "alternate_name": f.name2, "description": None, "url": f.website, "email": None,
        "status": STATUS_TO_HSDS[FacilityStatus(f.status)],
        "assured_date": f.last_verified_on.isoformat() if f.last_verified_on else None,
        "last_modified": utc_text(f.updated_at),
    }]


def _location(f, ids: dict[str, str], codes: list[str]) -> list[dict]:
    return [{
        "id": ids["location"], "location_type": "physical", "organization_id": ids["organization"],
        "name": f.name1, "alternate_name": f.name2, "description": None,
        "latitude": f.latitude, "longitude": f.longitude,
        "external_identifier": f.source_key,
        "external_identifier_type": SOURCE_KEY_TYPE if f.source_key else None,
    }]


def _address(f, ids: dict[str, str], codes: list[str]) -> list[dict]:
    return [{
        "id": ids["address"], "location_id": ids["location"], "attention": None,
        # address_1 and postal_code are required by HSDS: empty rather than absent.
        "address_1": f.street1 or "", "address_2": f.street2, "city": f.city,
        "region": f.county, "state_province": f.state,
        "postal_code": "-".join(part for part in (f.zip, f.zip4) if part), "country": "US",
        "address_type": "physical",
    }]


def _phone(f, ids: dict[str, str], codes: list[str]) -> list[dict]:
    phones = []
    for role, stored in ((MAIN_PHONE, f.phone), (INTAKE_PHONE, f.intake_phone)):
        if stored:
            number, extension = split_phone(stored)
            phones.append({
                "id": phone_id(f.slug, role.lower()), "location_id": ids["location"],
                "service_id": None, "organization_id": None, "number": number,
                "extension": extension, "type": "voice", "description": role,
            })
    return phones


def _service_at_location(f, ids: dict[str, str], codes: list[str]) -> list[dict]:
    return [{
        "id": ids["service_at_location"], "service_id": ids["service"],
        "location_id": ids["location"], "description": None,
    }]


def _attribute(f, ids: dict[str, str], codes: list[str]) -> list[dict]:
    return [
        {
            "id": attribute_id(f.slug, code), "link_id": ids["service"],
            "taxonomy_term_id": term_id(code), "link_type": None, "link_entity": "service",
            "value": None,
        }
        for code in codes
    ]


#: The records of one facility (a row of ``exports.load_directory``), by table.
FACILITY_TABLES = {
    "organization": _organization,
    "service": _service,
    "location": _location,
    "address": _address,
    "phone": _phone,
    "service_at_location": _service_at_location,
    "attribute": _attribute,
}


def taxonomy_records(categories, services) -> dict[str, list[dict]]:
    """The taxonomy record and its terms: categories, then each service code under its own."""
    taxonomy = taxonomy_id()
    terms = [
        {
            "id": term_id(c.code, is_category=True), "code": c.code, "name": c.name,
            "description": c.plain_name, "parent_id": None, "taxonomy": TAXONOMY_NAME,
            "language": "en", "taxonomy_id": taxonomy, "term_uri": None,
        }
        for c in categories
    ] + [
        {
            "id": term_id(s.code), "code": s.code, "name": s.label,
            "description": s.plain_label, "parent_id": term_id(s.category_code, is_category=True),
            "taxonomy": TAXONOMY_NAME, "language": "en", "taxonomy_id": taxonomy,
            "term_uri": None,
        }
        for s in services
    ]
    return {
        "taxonomy": [{
            "id": taxonomy, "name": TAXONOMY_NAME, "description": TAXONOMY_DESCRIPTION,
            "uri": TAXONOMY_URI, "version": None,
        }],
        "taxonomy_term": terms,
    }


def table_rows(directory, table: str) -> Iterator[dict]:
    """The records of one HSDS table for the whole directory (``exports.DirectoryData``)."""
    if table in ("taxonomy", "taxonomy_term"):
        yield from taxonomy_records(directory.categories, directory.services)[table]
        return
    build = FACILITY_TABLES[table]
    for facility in directory.facilities:
        codes = directory.codes.get(facility.id, [])
        yield from build(facility, facility_ids(facility.slug), codes)
