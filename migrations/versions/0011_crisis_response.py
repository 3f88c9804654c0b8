"""the crisis response of a level-1 warning: safety assessments, safety plans, emergency referrals

A level-1 warning gets a brief suicide safety assessment (NIMH BSSA structure) and, by its outcome, a safety plan
(Stanley-Brown, six steps) and referrals; case_entries.emergency marks the emergency referral of an imminent risk.

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-02 16:45:00
"""
import sqlalchemy as sa
from alembic import op

import models.base

revision = "0011"
down_revision = "0012"  # re-chained after secD (integ) so the branch has one head
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "safety_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("warning_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("counselor_id", sa.Integer(), nullable=True),
        sa.Column("assessed_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answers_enc", sa.LargeBinary(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=True),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('imminent','further_evaluation','no_current_risk')",
            name=op.f("ck_safety_assessments_outcome"),
        ),
        sa.ForeignKeyConstraint(["case_id"], ["care_cases.id"], name=op.f("fk_safety_assessments_case_id_care_cases")),
        sa.ForeignKeyConstraint(["counselor_id"], ["users.id"], name=op.f("fk_safety_assessments_counselor_id_users")),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"],
                                name=op.f("fk_safety_assessments_student_id_students")),
        sa.ForeignKeyConstraint(["warning_id"], ["warnings.id"],
                                name=op.f("fk_safety_assessments_warning_id_warnings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_assessments")),
        sa.UniqueConstraint("uid", name=op.f("uq_safety_assessments_uid")),
    )
    with op.batch_alter_table("safety_assessments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safety_assessments_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_safety_assessments_student_id"), ["student_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_safety_assessments_warning_id"), ["warning_id"], unique=False)

    op.create_table(
        "safety_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("warning_id", sa.Integer(), nullable=True),
        sa.Column("warning_signs_enc", sa.LargeBinary(), nullable=True),
        sa.Column("coping_enc", sa.LargeBinary(), nullable=True),
        sa.Column("distractions_enc", sa.LargeBinary(), nullable=True),
        sa.Column("help_people_enc", sa.LargeBinary(), nullable=True),
        sa.Column("professionals_enc", sa.LargeBinary(), nullable=True),
        sa.Column("environment_enc", sa.LargeBinary(), nullable=True),
        sa.Column("review_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.CheckConstraint("status IN ('active','ended')", name=op.f("ck_safety_plans_status")),
        sa.ForeignKeyConstraint(["case_id"], ["care_cases.id"], name=op.f("fk_safety_plans_case_id_care_cases")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_safety_plans_created_by_id_users")),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], name=op.f("fk_safety_plans_student_id_students")),
        sa.ForeignKeyConstraint(["warning_id"], ["warnings.id"], name=op.f("fk_safety_plans_warning_id_warnings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_plans")),
        sa.UniqueConstraint("case_id", name=op.f("uq_safety_plans_case_id")),
        sa.UniqueConstraint("uid", name=op.f("uq_safety_plans_uid")),
    )
    with op.batch_alter_table("safety_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safety_plans_student_id"), ["student_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_safety_plans_warning_id"), ["warning_id"], unique=False)

    with op.batch_alter_table("case_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("emergency", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("case_entries", schema=None) as batch_op:
        batch_op.drop_column("emergency")
    op.drop_table("safety_plans")
    op.drop_table("safety_assessments")
