"""lab-flagged results: the laboratory's words when it flagged a specimen

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 09:00:00

A result whose specimen the laboratory flags as contaminated or unsuitable (HL7 SPM-24
CON or an NTE comment, FHIR Specimen.condition or Observation.note, the CSV `flags`
column) is stored and shown with the lab's words, and not counted by the rules. Existing
rows carry no flag.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.storage.base  # noqa: F401  (custom column types)

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flag', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.drop_column('flag')
