"""rechecks remember the stage already notified: the sweep touches only rechecks whose state changed

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 09:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Left empty: the first sweep after the upgrade looks at every open recheck once (its NOT EXISTS guard keeps
    # the notifications already sent from being sent again) and records the stage; later sweeps skip them.
    with op.batch_alter_table("rechecks") as batch_op:
        batch_op.add_column(sa.Column("notified_stage", sa.String(length=10), nullable=True))
        batch_op.create_index("ix_rechecks_status_notified", ["status", "notified_stage"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rechecks") as batch_op:
        batch_op.drop_index("ix_rechecks_status_notified")
        batch_op.drop_column("notified_stage")
