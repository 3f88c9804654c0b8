"""the school leader role (校领导 / 分管德育): their school's aggregate figures and report, never a name

Only the CHECK constraint on users.role changes. A school leader is tied to their one school through
counselor_schools (the existing user-school link); `Student.visible_to` gives the role no student rows.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

OLD = "role IN ('admin','district','counselor','head_teacher')"
NEW = "role IN ('admin','district','counselor','head_teacher','school_leader')"


def _set_check(condition: str) -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint(op.f("ck_users_role"), type_="check")
        batch_op.create_check_constraint(op.f("ck_users_role"), sa.text(condition))


def upgrade() -> None:
    _set_check(NEW)


def downgrade() -> None:
    leaders = op.get_bind().execute(sa.text("SELECT count(*) FROM users WHERE role = 'school_leader'")).scalar()
    if leaders:
        # never a silent change of someone's role (which other role would be right?): the operator decides first
        raise RuntimeError(f"{leaders} user(s) have the role school_leader: change their role or remove them first")
    _set_check(OLD)
