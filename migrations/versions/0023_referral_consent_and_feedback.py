"""referral packets: the guardian's consent (or the reason without it) and the service's structured feedback

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 09:40:00
"""
import sqlalchemy as sa
from alembic import op

import models.base

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consent_how", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("consent_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("consent_by_enc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("no_consent_reason_enc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("consent_recorded_at", models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("service_feedback_enc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("feedback_at", models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_entries", schema=None) as batch_op:
        for column in ("feedback_at", "service_feedback_enc", "consent_recorded_at", "no_consent_reason_enc",
                       "consent_by_enc", "consent_on", "consent_how"):
            batch_op.drop_column(column)
