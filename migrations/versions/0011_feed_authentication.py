"""feed authentication: a feed's certificate CN, allowed networks and permissions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 23:10:00

The MLLP listener names a feed by its client certificate (CN or DNS SAN) or by the network
it connects from, no longer by MSH-3, and lets it do only what it is permitted to
(results, removals, adt, merges). Existing feeds may send results only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.storage.base  # noqa: F401  (custom column types)

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cert_cn', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('allow_ips', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('permissions', sa.String(length=100),
                                      server_default='results', nullable=False))
        batch_op.create_unique_constraint('uq_feeds_cert_cn', ['cert_cn'])


def downgrade() -> None:
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.drop_constraint('uq_feeds_cert_cn', type_='unique')
        batch_op.drop_column('permissions')
        batch_op.drop_column('allow_ips')
        batch_op.drop_column('cert_cn')
