"""inferred result keys: results say whether their key was built from their content

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 10:00:00

A CSV or JSON row without result_id is identified by patient, collection time, analyte,
method and code (the clinical contract v2): the key is inferred, not sent, so a different
value under it is refused as a conflicting duplicate instead of replacing the stored one.
The engine needs to know this of every stored version it re-applies. Rows stored before
keep their keys and count as sent (false): their versions resolve as they always did.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.storage.base  # noqa: F401  (custom column types)

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_inferred', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.drop_column('key_inferred')
