"""the scheduler lease's fencing token: one lease row on SQLite and PostgreSQL (no advisory lock any more)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scheduler_leases") as batch_op:
        batch_op.add_column(sa.Column("token", sa.BigInteger(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("scheduler_leases") as batch_op:
        batch_op.drop_column("token")
