"""Imports every model so that metadata (and Alembic) sees the whole schema."""

from finder.directory.models import Facility, FacilityStatus, GeoPrecision, Service, ServiceCategory, facility_service
from finder.geo.models import ZipCode

__all__ = [
    "Facility",
    "FacilityStatus",
    "GeoPrecision",
    "Service",
    "ServiceCategory",
    "ZipCode",
    "facility_service",
]
