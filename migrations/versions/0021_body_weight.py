"""Body weights entered on the patient page

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 17:30:00

Issue 16 (the infusion prediction): a physician or nurse enters a patient's body weight on
the patient page (`body_weights`); a weight a feed sends (LOINC 29463-7) is a result like
any other. The latest of either is the one the prediction uses.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.storage.base

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = monitor.storage.base.UTCDateTime(timezone=True)
    op.create_table(
        'body_weights',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('weight_kg', sa.Float(), nullable=False),
        sa.Column('measured_at', when, nullable=False),
        sa.Column('entered_by', sa.String(length=100), nullable=False),
        sa.Column('entered_at', when, nullable=False),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_body_weights_patient_id', 'body_weights', ['patient_id'])


def downgrade() -> None:
    op.drop_index('ix_body_weights_patient_id', table_name='body_weights')
    op.drop_table('body_weights')
