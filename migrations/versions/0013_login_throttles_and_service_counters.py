"""sign-in throttle per address and per username; service counters that never decrease

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 04:40:00

Sign-in failures are counted per client address as well as per username, in a table of
their own (unknown usernames get a row too, so waits do not tell who exists); the users'
own counter and lock go. Retries of inbox rows and deliveries are counted in
`service_counters`, which only ever grow, for Prometheus counters (`..._total`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.storage.base

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'login_throttles',
        sa.Column('key', sa.String(length=120), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('wait_until', monitor.storage.base.UTCDateTime(timezone=True),
                  nullable=True),
        sa.Column('last_attempt_at', monitor.storage.base.UTCDateTime(timezone=True),
                  nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttles')))
    op.create_table(
        'service_counters',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('value', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_service_counters')))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('locked_until',
                                      monitor.storage.base.UTCDateTime(timezone=True),
                                      nullable=True))
    op.drop_table('service_counters')
    op.drop_table('login_throttles')
