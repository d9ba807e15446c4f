"""codes seen and not used, counted per feed; diagnosis codes long enough for SNOMED CT

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 13:45:00

An integration engineer sees what a feed sends that the service ignores (issue 18 item 3):
one row per (feed, system, code). `risk_factors.icd10_code` holds SNOMED CT codes as
"SCT:<id>" (ids up to 18 digits), so it widens from 16 to 32 characters.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.storage.base

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'unmapped_codes',
        sa.Column('feed', sa.String(length=100), nullable=False),
        sa.Column('system', sa.String(length=200), nullable=False),
        sa.Column('code', sa.String(length=100), nullable=False),
        sa.Column('seen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=False),
        sa.Column('last_seen_at', monitor.storage.base.UTCDateTime(timezone=True),
                  nullable=False),
        sa.PrimaryKeyConstraint('feed', 'system', 'code', name=op.f('pk_unmapped_codes')),
    )
    with op.batch_alter_table('risk_factors', schema=None) as batch_op:
        batch_op.alter_column('icd10_code', existing_type=sa.String(length=16),
                              type_=sa.String(length=32), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('risk_factors', schema=None) as batch_op:
        batch_op.alter_column('icd10_code', existing_type=sa.String(length=32),
                              type_=sa.String(length=16), existing_nullable=True)
    op.drop_table('unmapped_codes')
