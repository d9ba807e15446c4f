"""Urine output over an interval; AQUARESIS_WARNING held to one active alert per patient

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-03 16:30:00

Issue 16 (urine half): a urine output's volume is collected over an interval; `results`
keeps its start (`started_at`; `collected_at` is the end). The partial unique index that
holds the engine's rules to one active alert per patient, rule and event names the new
rule too. (Re-chained after 0019 at merge.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.storage.base

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

_RULES = ("'OVERCORRECTION_24H', 'OVERCORRECTION_48H', 'PROJECTED_OVERCORRECTION', "
          "'SEVERE_HYPONATREMIA', 'FALLING_SODIUM', 'HYPERNATREMIA', "
          "'HYPERNATREMIA_LOWERED_TOO_FAST', 'HYPERTONIC_SALINE_MILD'")  # after 0019
BEFORE = f"state = 'active' AND rule IN ({_RULES})"
AFTER = f"state = 'active' AND rule IN ({_RULES}, 'AQUARESIS_WARNING')"


def _index(where: str) -> None:
    op.create_index('uq_alerts_active_event', 'alerts', ['patient_id', 'rule', 'event'],
                    unique=True, postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def _drop_index(where: str) -> None:
    op.drop_index('uq_alerts_active_event', table_name='alerts',
                  postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def upgrade() -> None:
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'started_at', monitor.storage.base.UTCDateTime(timezone=True), nullable=True))
    _drop_index(BEFORE)
    _index(AFTER)


def downgrade() -> None:
    _drop_index(AFTER)
    _index(BEFORE)
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.drop_column('started_at')
