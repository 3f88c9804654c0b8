"""Maintained rollups of the district figures: aggregate counts only (no student appears in them).

One row per selection (a term or a campaign) and detail ("full": per school, grade and gender; "coarse": per school
type x stage, grade and gender, for the trend charts), holding every measure's counts as JSON. Written by the
district statistics service when the selection's campaigns are all closed, read instead of the screenings while
fresh (see app/district/service.py).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class DistrictRollup(Base):
    __tablename__ = "district_rollups"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # e.g. "d3:term:2026-2027-1:full"
    stamp: Mapped[str] = mapped_column(String(200))  # what the rollup was computed from (campaign ids, closing times)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cubes: Mapped[str] = mapped_column(Text)  # JSON {measure: [[school_id, grade, gender, count], ...]}


# Indexes for the district's aggregate queries (migration 0005). The covering index lets the per-student and
# per-instrument counts of a campaign read the index alone instead of the wide screening rows (answers, results);
# the two others let rechecks and cases be found from the campaign's warnings instead of scanning every row.
from sqlalchemy import Index  # noqa: E402

from .care import CareCase  # noqa: E402
from .rechecks import Recheck  # noqa: E402
from .screenings import Screening  # noqa: E402

Index(
    "ix_district_screenings_cover",
    Screening.campaign_id, Screening.student_id, Screening.school_id, Screening.grade, Screening.instrument_id,
    Screening.positive, Screening.valid,
)
Index("ix_district_rechecks_warning", Recheck.warning_id)
Index("ix_district_care_cases_warning", CareCase.warning_id)
