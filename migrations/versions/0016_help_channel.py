"""help channel and finish-page contact: the school's counselor contact (name, room, hours); help requests

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 17:20:00
"""
import sqlalchemy as sa
from alembic import op

import models.base

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schools") as batch_op:
        batch_op.add_column(sa.Column("counselor_contact_name", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("counselor_room", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("counselor_hours", sa.String(length=120), nullable=True))
    op.create_table(
        "help_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("urgency", sa.String(length=10), nullable=False),
        sa.Column("raised_by", sa.String(length=20), nullable=False),
        sa.Column("raised_by_id", sa.Integer(), nullable=True),
        sa.Column("message_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("urgency IN ('urgent','soon','whenever')", name=op.f("ck_help_requests_urgency")),
        sa.CheckConstraint("raised_by IN ('student','head_teacher')", name=op.f("ck_help_requests_raised_by")),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], name=op.f("fk_help_requests_student_id_students")),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_help_requests_school_id_schools")),
        sa.ForeignKeyConstraint(["raised_by_id"], ["users.id"], name=op.f("fk_help_requests_raised_by_id_users")),
        sa.ForeignKeyConstraint(["acknowledged_by_id"], ["users.id"],
                                name=op.f("fk_help_requests_acknowledged_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_help_requests")),
        sa.UniqueConstraint("uid", name=op.f("uq_help_requests_uid")),
    )
    with op.batch_alter_table("help_requests") as batch_op:
        batch_op.create_index(batch_op.f("ix_help_requests_student_id"), ["student_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_help_requests_school_id"), ["school_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_help_requests_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("help_requests")
    with op.batch_alter_table("schools") as batch_op:
        batch_op.drop_column("counselor_hours")
        batch_op.drop_column("counselor_room")
        batch_op.drop_column("counselor_contact_name")
