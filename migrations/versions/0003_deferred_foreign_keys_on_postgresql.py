"""the three use_alter foreign keys on PostgreSQL (screenings/notifications -> rechecks, rechecks -> screenings)

0001 declared them inside `op.create_table` with use_alter=True; SQLite writes them inline, but on PostgreSQL
CREATE TABLE skips use_alter constraints and nothing added them afterwards, so those columns had no referential
integrity there (the migration test's model/migration comparison found it). Added here when missing.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 07:50:00
"""
from alembic import op
from sqlalchemy import inspect

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FKS = (
    ("fk_screenings_recheck_id_rechecks", "screenings", "rechecks", "recheck_id"),
    ("fk_notifications_recheck_id_rechecks", "notifications", "rechecks", "recheck_id"),
    ("fk_rechecks_screening_id_screenings", "rechecks", "screenings", "screening_id"),
)


def _existing(table: str) -> set[str]:
    return {fk["name"] for fk in inspect(op.get_bind()).get_foreign_keys(table) if fk.get("name")}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return  # SQLite created them inline in 0001
    for name, source, referent, column in FKS:
        if name not in _existing(source):
            op.create_foreign_key(name, source, referent, [column], ["id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for name, source, _referent, _column in FKS:
        if name in _existing(source):
            op.drop_constraint(name, source, type_="foreignkey")
