"""Medication orders and administrations, severe-symptom records, HYPERTONIC_SALINE_MILD

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 16:40:00

Issue 16 (treatment): HL7 RDE^O11 / RAS^O17, FHIR MedicationRequest / MedicationAdministration
and CSV medication rows are stored per patient with their class (engine.treatment); a
clinician records severe symptoms; the engine's new rule HYPERTONIC_SALINE_MILD keeps one
active alert per patient, like the other engine rules (the partial unique index).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.storage.base

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

_RULES = ("'OVERCORRECTION_24H', 'OVERCORRECTION_48H', 'PROJECTED_OVERCORRECTION', "
          "'SEVERE_HYPONATREMIA', 'FALLING_SODIUM', 'HYPERNATREMIA', "
          "'HYPERNATREMIA_LOWERED_TOO_FAST'")
BEFORE = f"state = 'active' AND rule IN ({_RULES})"
AFTER = f"state = 'active' AND rule IN ({_RULES}, 'HYPERTONIC_SALINE_MILD')"


def _index(where: str) -> None:
    op.create_index('uq_alerts_active_event', 'alerts', ['patient_id', 'rule', 'event'],
                    unique=True, postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def upgrade() -> None:
    when = monitor.storage.base.UTCDateTime(timezone=True)
    op.create_table(
        'medications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('source_feed', sa.String(length=100), nullable=False),
        sa.Column('med_key', sa.String(length=300), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('at', when, nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('local_code', sa.String(length=100), nullable=True),
        sa.Column('code_system', sa.String(length=200), nullable=True),
        sa.Column('rxnorm', sa.String(length=32), nullable=True),
        sa.Column('amount', sa.String(length=50), nullable=True),
        sa.Column('unit', sa.String(length=50), nullable=True),
        sa.Column('route', sa.String(length=100), nullable=True),
        sa.Column('med_class', sa.String(length=32), nullable=True),
        sa.Column('test', sa.Boolean(), nullable=False),
        sa.Column('position', sa.Text(), nullable=False),
        sa.Column('received_at', when, nullable=False),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('source_feed', 'med_key', name='uq_medications_feed_key'),
    )
    op.create_index('ix_medications_patient_at', 'medications', ['patient_id', 'at'])
    op.create_table(
        'symptom_marks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('observed_at', when, nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('marked_by', sa.String(length=100), nullable=False),
        sa.Column('marked_at', when, nullable=False),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_symptom_marks_patient_id', 'symptom_marks', ['patient_id'])
    op.drop_index('uq_alerts_active_event', table_name='alerts')
    _index(AFTER)


def downgrade() -> None:
    op.drop_index('uq_alerts_active_event', table_name='alerts')
    _index(BEFORE)
    op.drop_index('ix_symptom_marks_patient_id', table_name='symptom_marks')
    op.drop_table('symptom_marks')
    op.drop_index('ix_medications_patient_at', table_name='medications')
    op.drop_table('medications')
