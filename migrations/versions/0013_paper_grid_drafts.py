"""paper_grid_drafts: the rows of a half-entered class grid of paper forms, sealed per student (issue 16)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 17:00:00
"""
import sqlalchemy as sa
from alembic import op

import models.base

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_grid_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.String(length=32), nullable=False),
        sa.Column("answers_enc", sa.LargeBinary(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["class_id"], ["classes.id"], name=op.f("fk_paper_grid_drafts_class_id_classes"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"],
                                name=op.f("fk_paper_grid_drafts_student_id_students"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"],
                                name=op.f("fk_paper_grid_drafts_updated_by_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_grid_drafts")),
        sa.UniqueConstraint("class_id", "instrument_id", "student_id", name="uq_paper_grid_drafts_one"),
        sa.UniqueConstraint("uid", name=op.f("uq_paper_grid_drafts_uid")),
    )
    with op.batch_alter_table("paper_grid_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_paper_grid_drafts_class_id"), ["class_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_paper_grid_drafts_student_id"), ["student_id"], unique=False)


def downgrade() -> None:
    op.drop_table("paper_grid_drafts")
