"""acute mark onset

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:00:00

An acute mark carries the documented onset of the acute hyponatremia (clinical contract
v2): the rate rules spare only the windows whose lowest value lies within the policy's
acute_hours of it. Marks made before had no onset; they take the default a mark without
one takes now, the time it was made. `episode_start` (a time inside the episode the mark
then covered) is kept for the record and left empty by new marks.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.storage.base

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('episode_marks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('onset_at', monitor.storage.base.UTCDateTime(),
                                      nullable=True))
    op.execute("UPDATE episode_marks SET onset_at = marked_at")
    with op.batch_alter_table('episode_marks', schema=None) as batch_op:
        batch_op.alter_column('onset_at', existing_type=monitor.storage.base.UTCDateTime(),
                              nullable=False)
        batch_op.alter_column('episode_start', existing_type=monitor.storage.base.UTCDateTime(),
                              nullable=True)


def downgrade() -> None:
    # Marks made since have no episode time: their onset is the nearest thing to one.
    op.execute("UPDATE episode_marks SET episode_start = onset_at WHERE episode_start IS NULL")
    with op.batch_alter_table('episode_marks', schema=None) as batch_op:
        batch_op.alter_column('episode_start', existing_type=monitor.storage.base.UTCDateTime(),
                              nullable=False)
        batch_op.drop_column('onset_at')
