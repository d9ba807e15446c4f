"""Diagnoses over time: onset, the sender's recorded date, abatement, encounter category
and why a diagnosis is void

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 14:00:00

A resolved chronic diagnosis keeps its risk for the results before its abatement; a
refuted or entered-in-error one never counted (issue 18). Rows made inactive before this
revision were removed outright, so they become void with the reason "removed".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.storage.base

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('risk_factors') as batch:
        batch.add_column(sa.Column('onset_at', monitor.storage.base.UTCDateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column('asserted_at',
                                   monitor.storage.base.UTCDateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column('abated_at', monitor.storage.base.UTCDateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column('encounter', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column('voided', sa.String(length=200), nullable=True))
    op.execute("UPDATE risk_factors SET voided = 'removed' WHERE active = false")


def downgrade() -> None:
    op.execute("UPDATE risk_factors SET active = false WHERE voided IS NOT NULL")
    with op.batch_alter_table('risk_factors') as batch:
        for column in ('voided', 'encounter', 'abated_at', 'asserted_at', 'onset_at'):
            batch.drop_column(column)
