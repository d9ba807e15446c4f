"""FHIR Patient logical id -> the patient's identifier, learnt from every Patient seen

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 19:10:00

A Bulk Data export puts the Patient resources (with the MRN) in one file and the
Observations that refer to "Patient/{id}" in another; EHRs send them in separate requests.
The link makes both resolve to the same patient whatever the layout (issue 18).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.storage.base

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'fhir_patient_links',
        sa.Column('fhir_id', sa.String(length=100), nullable=False),
        sa.Column('authority', sa.String(length=100), nullable=False),
        sa.Column('identifier', sa.String(length=100), nullable=False),
        sa.Column('linked_at', monitor.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('fhir_id', name=op.f('pk_fhir_patient_links')),
    )


def downgrade() -> None:
    op.drop_table('fhir_patient_links')
