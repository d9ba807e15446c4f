"""The latest end of a patient's stay, for standing alerts bound to stays

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 13:50:00

A standing alert (SEVERE_HYPONATREMIA, HYPERNATREMIA) holds for one stay: the engine keeps
the latest end of a stay it has seen (a discharge, or a gap without sodium longer than the
episode gap) so that a readmission raises a new alert (issue 18 item 5, engine.stays).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.storage.base

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('patients', sa.Column(
        'stay_ended_at', monitor.storage.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('patients', 'stay_ended_at')
