"""SQLAlchemy models, the field-encryption key ring and vault, and the audit chain. No Flask here."""
from .audit import Actor, AuditEvent, AuditHead, append_event, verify_chain  # noqa: F401
from .base import Base, utcnow  # noqa: F401
from .care import CareCase, CareCheckin, CaseEntry  # noqa: F401
from .district import DistrictRollup  # noqa: F401
from .rechecks import Recheck, SchedulerLease  # noqa: F401
from .roster import (  # noqa: F401
    DataKey,
    District,
    School,
    SchoolClass,
    Student,
    StudentCareGroup,
    StudentOwned,
    User,
    counselor_schools,
    teacher_classes,
)
from .screenings import (  # noqa: F401
    Campaign,
    CampaignInstrument,
    CampaignOptOut,
    ClassSession,
    Notification,
    ResponseDraft,
    Screening,
    Warning,
    WarningChange,
    campaign_schools,
)
