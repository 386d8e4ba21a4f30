"""The service filters offered to visitors, and grouping a facility's services for display."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import selectinload

from finder.directory.models import Facility, Service, ServiceCategory
from finder.extensions import db
from finder.typed_text import has_control_characters

#: Categories visitors filter by most; their order on the page comes from ``position``.
FILTER_CATEGORY_CODES = ("TC", "SET", "OT", "OM", "PHR", "PAY", "PYAS", "SG", "AGE", "SL")
#: Categories shown in a facility's payment section rather than with its other services.
PAYMENT_CATEGORY_CODES = ("PAY", "PYAS")


@dataclass(frozen=True)
class ServiceGroup:
    category: ServiceCategory
    services: list[Service]


def filter_categories(session=None) -> list[ServiceCategory]:
    """The filter categories with their services, both in display order."""
    session = session or db.session
    return list(
        session.execute(
            db.select(ServiceCategory)
            .where(ServiceCategory.code.in_(FILTER_CATEGORY_CODES))
            .options(selectinload(ServiceCategory.services))
            .order_by(ServiceCategory.position, ServiceCategory.code)
        ).scalars()
    )


def services_by_code(codes: Iterable[str], session=None) -> dict[str, Service]:
    codes = list(codes)
    if not codes:
        return {}
    session = session or db.session
    rows = session.execute(db.select(Service).where(Service.code.in_(codes))).scalars()
    return {service.code: service for service in rows}


def group_services(services: Iterable[Service]) -> list[ServiceGroup]:
    """Services grouped by category, categories in their fixed order, services by position."""
    groups: dict[str, ServiceGroup] = {}
    for service in services:
        group = groups.get(service.category_code)
        if group is None:
            group = groups[service.category_code] = ServiceGroup(service.category, [])
        group.services.append(service)
    ordered = sorted(groups.values(), key=lambda g: (g.category.position, g.category.code))
    for group in ordered:
        group.services.sort(key=lambda s: (s.position, s.plain_label))
    return ordered


def facility_by_slug(slug: str, session=None) -> Facility | None:
    if has_control_characters(slug):
        return None  # no slug holds one (and PostgreSQL refuses NUL in a query)
    session = session or db.session
    return session.execute(
        db.select(Facility)
        .where(Facility.slug == slug)
        .options(selectinload(Facility.services).selectinload(Service.category))
    ).scalar_one_or_none()
