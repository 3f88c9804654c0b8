"""one-time form tokens: a student's submission received twice is stored once; a long form sent twice is refused

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 17:10:00
"""
import sqlalchemy as sa
from alembic import op

import models.base

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spent_form_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=120), nullable=False),
        sa.Column("spent_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spent_form_tokens")),
        sa.UniqueConstraint("token", name="uq_spent_form_tokens_token"),
    )


def downgrade() -> None:
    op.drop_table("spent_form_tokens")
