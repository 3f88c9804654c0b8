"""the scheduler's last outcome per job (success time and counts, failure time and error) for the admin page

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-02 17:40:00
"""
import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduler_job_runs",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(100), nullable=False, server_default=""),
        sa.Column("last_success_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_counts", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("last_failure_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("scheduler_job_runs")
