"""Stable HSDS identifiers: UUIDv5 of a facility's slug (or a taxonomy code), so that exporting
the same directory twice gives the same ids and another system can update rather than duplicate.
"""

from __future__ import annotations

import uuid
from functools import lru_cache

#: The namespace of every id finder writes (fixed forever: changing it changes every id).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "hsds.finder.invalid")
#: ``location.external_identifier_type`` of the facility's ``source_key``.
SOURCE_KEY_TYPE = "finder_source_key"
#: ``organization.uri`` of a facility: this prefix and its slug (its persistent name in finder).
FACILITY_URI_PREFIX = "urn:finder:facility:"
#: The ``taxonomy`` record of the SAMHSA locator codes.
TAXONOMY_KEY = "samhsa-locator"


def hsds_id(table: str, *parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join((table, *parts))))


def location_id(slug: str) -> str:
    return hsds_id("location", slug)


@lru_cache(maxsize=1 << 16)  # an export asks once per table; UUIDv5 is the export's main cost
def facility_ids(slug: str) -> dict[str, str]:
    """The ids of the records one facility is exported as (do not change the dict)."""
    return {
        table: hsds_id(table, slug)
        for table in ("organization", "service", "location", "address", "service_at_location")
    }


def phone_id(slug: str, role: str) -> str:
    return hsds_id("phone", slug, role)


def taxonomy_id() -> str:
    return hsds_id("taxonomy", TAXONOMY_KEY)


def term_id(code: str, is_category: bool = False) -> str:
    return hsds_id("taxonomy_term", "category" if is_category else "service", code)


def attribute_id(slug: str, code: str) -> str:
    return hsds_id("attribute", slug, code)
