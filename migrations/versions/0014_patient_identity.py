"""who the patient is: birth date, sex and room beside the name and bed

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 08:30:00

The feeds send the patient's name (PID-5, FHIR Patient.name: into the existing
`display_name`), birth date (PID-7, birthDate), administrative sex (PID-8, gender) and room
(PV1-3.2); the pages show them so that a nurse knows whom an alert is about.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('patients') as batch:
        batch.add_column(sa.Column('birth_date', sa.Date(), nullable=True))
        batch.add_column(sa.Column('sex', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('room', sa.String(length=50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('patients') as batch:
        batch.drop_column('room')
        batch.drop_column('sex')
        batch.drop_column('birth_date')
