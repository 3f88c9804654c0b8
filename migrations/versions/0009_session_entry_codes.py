"""session_entry_codes: each student's personal entry code per class session (sealed), failures and lock

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 17:00:00
"""
import sqlalchemy as sa
from alembic import op

import models.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_entry_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("code_enc", sa.LargeBinary(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("issued_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["class_sessions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "student_id", name="uq_session_entry_codes_one"),
    )
    op.create_index("ix_session_entry_codes_session_id", "session_entry_codes", ["session_id"])
    op.create_index("ix_session_entry_codes_student_id", "session_entry_codes", ["student_id"])


def downgrade() -> None:
    op.drop_index("ix_session_entry_codes_student_id", table_name="session_entry_codes")
    op.drop_index("ix_session_entry_codes_session_id", table_name="session_entry_codes")
    op.drop_table("session_entry_codes")
