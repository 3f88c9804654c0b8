"""SQLAlchemy models, the field-encryption key ring and vault, and the audit chain. No Flask here."""
from .audit import Actor, AuditEvent, AuditHead, append_event, verify_chain
from .base import Base, utcnow
from .care import CareCase, CareCheckin, CaseEntry
from .district import DistrictRollup
from .form_tokens import SpentFormToken
from .rechecks import Recheck, SchedulerLease
from .roster import (
    DataKey,
    District,
    RecoveryCode,
    School,
    SchoolClass,
    Student,
    StudentCareGroup,
    StudentOwned,
    User,
    counselor_schools,
    teacher_classes,
)
from .screenings import (
    Campaign,
    CampaignInstrument,
    CampaignOptOut,
    ClassSession,
    EntryCode,
    Notification,
    ResponseDraft,
    Screening,
    Warning,
    WarningChange,
    campaign_schools,
)

# What `from models import X` may name (the package's public names; mypy's strict mode reads this list).
__all__ = [
    "Actor", "AuditEvent", "AuditHead", "Base", "Campaign", "CampaignInstrument", "CampaignOptOut", "CareCase",
    "CareCheckin", "CaseEntry", "ClassSession", "DataKey", "District", "DistrictRollup", "EntryCode", "Notification",
    "Recheck", "RecoveryCode", "ResponseDraft", "SchedulerLease", "School", "SchoolClass", "Screening",
    "SpentFormToken", "Student", "StudentCareGroup",
    "StudentOwned", "User", "Warning", "WarningChange", "append_event", "campaign_schools", "counselor_schools",
    "teacher_classes", "utcnow", "verify_chain",
]
