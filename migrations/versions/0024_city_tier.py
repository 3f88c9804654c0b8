"""city tier: cities (市教委), districts.city_id, users.city_id and the role "city"

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 10:00:00

The role CHECK constraint is rebuilt from the two lists below. Merging with a migration that adds another role
(e.g. 0018 "school_leader"): add that role to both lists here (and to ROLES_BEFORE of the later migration), so
whichever runs last writes the union.
"""
import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

ROLES_BEFORE = ("admin", "district", "counselor", "head_teacher", "school_leader")
ROLES_AFTER = (*ROLES_BEFORE, "city")


def _role_check(roles: tuple[str, ...]) -> str:
    return "role IN (" + ",".join(f"'{r}'" for r in roles) + ")"


def upgrade() -> None:
    op.create_table(
        "cities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cities")),
        sa.UniqueConstraint("code", name=op.f("uq_cities_code")),
    )
    with op.batch_alter_table("districts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("city_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_districts_city_id"), ["city_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_districts_city_id_cities"), "cities", ["city_id"], ["id"])
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("city_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_users_city_id_cities"), "cities", ["city_id"], ["id"])
        batch_op.drop_constraint(op.f("ck_users_role"), type_="check")
        batch_op.create_check_constraint("role", _role_check(ROLES_AFTER))


def downgrade() -> None:
    # City officers have no place in the older schema: their accounts go (the audit chain keeps what they did).
    op.execute("DELETE FROM users WHERE role = 'city'")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_role"), type_="check")
        batch_op.create_check_constraint("role", _role_check(ROLES_BEFORE))
        batch_op.drop_constraint(batch_op.f("fk_users_city_id_cities"), type_="foreignkey")
        batch_op.drop_column("city_id")
    with op.batch_alter_table("districts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_districts_city_id_cities"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_districts_city_id"))
        batch_op.drop_column("city_id")
    op.drop_table("cities")
