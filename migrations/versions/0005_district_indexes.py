"""indexes for the district statistics: a covering index of a campaign's screenings, rechecks and cases by warning

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 07:45:00
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_district_screenings_cover",
        "screenings",
        ["campaign_id", "student_id", "school_id", "grade", "instrument_id", "positive", "valid"],
    )
    op.create_index("ix_district_rechecks_warning", "rechecks", ["warning_id"])
    op.create_index("ix_district_care_cases_warning", "care_cases", ["warning_id"])


def downgrade() -> None:
    op.drop_index("ix_district_care_cases_warning", table_name="care_cases")
    op.drop_index("ix_district_rechecks_warning", table_name="rechecks")
    op.drop_index("ix_district_screenings_cover", table_name="screenings")
