"""retention: the day a student left (the basis of the retention period) and the review list of files due

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 09:50:00

Students already recorded as graduated, left or transferred out get `left_on` = the day of their last update
(the best the database knows); a district that knows better corrects it before the first review.
"""
from datetime import date

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("students", schema=None) as batch_op:
        batch_op.add_column(sa.Column("left_on", sa.Date(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, updated_at FROM students WHERE status IN ('graduated','left','transferred_out')")).all()
    for sid, updated in rows:  # a datetime (PostgreSQL) or its ISO text (SQLite): the day is the first 10 chars
        day = date.fromisoformat(str(updated)[:10]) if updated is not None else None
        bind.execute(sa.text("UPDATE students SET left_on = :d WHERE id = :i"), {"d": day, "i": sid})
    op.create_table(
        "retention_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("listed_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("hold_reason", sa.String(length=30), nullable=True),
        sa.Column("held_until", sa.Date(), nullable=True),
        sa.Column("held_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_as", sa.String(length=64), nullable=True),
        sa.Column("decided_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.CheckConstraint("status IN ('due','held','erased','cancelled')", name=op.f("ck_retention_reviews_status")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_retention_reviews_decided_by_id_users")),
        sa.ForeignKeyConstraint(["held_by_id"], ["users.id"], name=op.f("fk_retention_reviews_held_by_id_users")),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_retention_reviews_school_id_schools")),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], name=op.f("fk_retention_reviews_student_id_students")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_reviews")),
        sa.UniqueConstraint("uid", name=op.f("uq_retention_reviews_uid")),
    )
    with op.batch_alter_table("retention_reviews", schema=None) as batch_op:
        batch_op.create_index("ix_retention_reviews_school_status", ["school_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_retention_reviews_student_id"), ["student_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("retention_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retention_reviews_student_id"))
        batch_op.drop_index("ix_retention_reviews_school_status")
    op.drop_table("retention_reviews")
    with op.batch_alter_table("students", schema=None) as batch_op:
        batch_op.drop_column("left_on")
