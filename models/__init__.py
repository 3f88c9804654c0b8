"""SQLAlchemy models, the field-encryption key ring and vault, and the audit chain. No Flask here."""
from .audit import Actor, AuditEvent, AuditHead, append_event, verify_chain
from .base import Base, utcnow
from .care import CareCase, CareCheckin, CaseEntry, HelpRequest, SafetyAssessment, SafetyPlan
from .district import DistrictRollup
from .form_tokens import SpentFormToken
from .grants import GRANT_STATUSES, AccessGrant
from .rechecks import Recheck, SchedulerJobRun, SchedulerLease
from .roster import (
    City,
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
    PaperGridDraft,
    ResponseDraft,
    Screening,
    Warning,
    WarningChange,
    campaign_schools,
)
from .transfers import TRANSFER_STATUSES, TransferRequest

# What `from models import X` may name (the package's public names; mypy's strict mode reads this list).
__all__ = [  # one name per line: branches that add models then merge without conflicts
    "AccessGrant",
    "GRANT_STATUSES",
    "Actor",
    "AuditEvent",
    "AuditHead",
    "Base",
    "Campaign",
    "CampaignInstrument",
    "CampaignOptOut",
    "CareCase",
    "CareCheckin",
    "CaseEntry",
    "City",
    "ClassSession",
    "DataKey",
    "District",
    "DistrictRollup",
    "EntryCode",
    "HelpRequest",
    "Notification",
    "PaperGridDraft",
    "Recheck",
    "RecoveryCode",
    "ResponseDraft",
    "SafetyAssessment",
    "SafetyPlan",
    "SchedulerJobRun",
    "SchedulerLease",
    "School",
    "SchoolClass",
    "Screening",
    "SpentFormToken",
    "Student",
    "StudentCareGroup",
    "StudentOwned",
    "TRANSFER_STATUSES",
    "TransferRequest",
    "User",
    "Warning",
    "WarningChange",
    "append_event",
    "campaign_schools",
    "counselor_schools",
    "teacher_classes",
    "utcnow",
    "verify_chain",
]
