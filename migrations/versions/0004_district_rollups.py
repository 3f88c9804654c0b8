"""district rollups: maintained aggregate counts per term / campaign for the district dashboard and trends

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 07:15:00
"""
import sqlalchemy as sa
from alembic import op

import models.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "district_rollups",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("stamp", sa.String(length=200), nullable=False),
        sa.Column("refreshed_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cubes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_district_rollups")),
    )


def downgrade() -> None:
    op.drop_table("district_rollups")
