"""Imports every model so that metadata (and Alembic) sees the whole schema."""

from finder.accounts.models import Role, User
from finder.calls.models import (
    Advertiser,
    AdvertiserPool,
    AdvertiserUsageCounter,
    AuditEntry,
    Call,
    CallAttempt,
    CallbackRequest,
    TrackingNumber,
    WebhookReceipt,
)
from finder.changes.models import ChangeEntry
from finder.directory.models import (
    Facility,
    FacilityStatus,
    FacilityVerification,
    GeoPrecision,
    Service,
    ServiceCategory,
    facility_service,
)
from finder.geo.models import ZipCode
from finder.guides.models import CommentStatus, Guide, GuideComment, GuideStatus
from finder.moderation.models import ProblemReport, ReportStatus

__all__ = [
    "CommentStatus",
    "Guide",
    "GuideComment",
    "GuideStatus",
    "ChangeEntry",
    "FacilityVerification",
    "ProblemReport",
    "ReportStatus",
    "Role",
    "User",
    "Advertiser",
    "AdvertiserPool",
    "AdvertiserUsageCounter",
    "AuditEntry",
    "Call",
    "CallAttempt",
    "CallbackRequest",
    "TrackingNumber",
    "WebhookReceipt",
    "Facility",
    "FacilityStatus",
    "GeoPrecision",
    "Service",
    "ServiceCategory",
    "ZipCode",
    "facility_service",
]
