"""emergency access (break the glass): one student's file for a limited time, announced and reviewed;
users.crisis_team marks a counselor of the district's crisis team

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 09:23:12.942694
"""
import sqlalchemy as sa
from alembic import op

import models.base


revision = '0021'
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('emergency_accesses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=30), nullable=False),
    sa.Column('reason_text', sa.String(length=500), nullable=False),
    sa.Column('factor', sa.String(length=10), nullable=False),
    sa.Column('granted_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('verdict', sa.String(length=15), nullable=True),
    sa.Column('verdict_note', sa.String(length=500), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_as', sa.String(length=64), nullable=True),
    sa.Column('reviewed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('uid', sa.String(length=36), nullable=False),
    sa.CheckConstraint("reason IN ('counselor_absent','after_hours','hospital_or_police','guardian_call','other')", name=op.f('ck_emergency_accesses_reason')),
    sa.CheckConstraint("verdict IS NULL OR verdict IN ('justified','not_justified')", name=op.f('ck_emergency_accesses_verdict')),
    sa.CheckConstraint('expires_at > granted_at', name=op.f('ck_emergency_accesses_expires_after_granted')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_emergency_accesses_reviewed_by_id_users')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_emergency_accesses_school_id_schools'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_emergency_accesses_student_id_students'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_emergency_accesses_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_accesses')),
    sa.UniqueConstraint('uid', name=op.f('uq_emergency_accesses_uid'))
    )
    with op.batch_alter_table('emergency_accesses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_accesses_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_accesses_student_id'), ['student_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_accesses_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('crisis_team', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('crisis_team')

    with op.batch_alter_table('emergency_accesses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_accesses_user_id'))
        batch_op.drop_index(batch_op.f('ix_emergency_accesses_student_id'))
        batch_op.drop_index(batch_op.f('ix_emergency_accesses_school_id'))

    op.drop_table('emergency_accesses')
