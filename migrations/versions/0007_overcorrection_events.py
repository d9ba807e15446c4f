"""overcorrection events: one active alert per patient, rule and event

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:30:00

A rate alert belongs to one overcorrection event (the clinical contract v2): an
overcorrection after re-lowering is a new event with its own alert, so the one-active-alert
invariant becomes one per (patient, rule, event). Existing rate alerts open their event at
their first evidence.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.storage.base  # noqa: F401  (custom column types)

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

ENGINE_ALERT = ("state = 'active' AND rule IN ('OVERCORRECTION_24H', 'OVERCORRECTION_48H', "
                "'PROJECTED_OVERCORRECTION', 'SEVERE_HYPONATREMIA', 'FALLING_SODIUM', "
                "'HYPERNATREMIA', 'HYPERNATREMIA_LOWERED_TOO_FAST')")


def upgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event', sa.String(length=440), server_default='',
                                      nullable=False))
    op.execute("UPDATE alerts SET event = COALESCE(first_key, '') WHERE rule IN "
               "('OVERCORRECTION_24H', 'OVERCORRECTION_48H', 'PROJECTED_OVERCORRECTION')")
    op.create_index('uq_alerts_active_event', 'alerts', ['patient_id', 'rule', 'event'],
                    unique=True, postgresql_where=sa.text(ENGINE_ALERT),
                    sqlite_where=sa.text(ENGINE_ALERT))


def downgrade() -> None:
    op.drop_index('uq_alerts_active_event', table_name='alerts',
                  postgresql_where=sa.text(ENGINE_ALERT), sqlite_where=sa.text(ENGINE_ALERT))
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('event')
