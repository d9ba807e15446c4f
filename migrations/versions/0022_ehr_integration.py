"""EHRs registered for CDS Hooks and SMART launch

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 19:00:00

Issue 17: an EHR calls the CDS Hooks services with JWTs its registered key set signs
(`ehr_clients`; each JWT's jti is kept until it expires, `ehr_token_uses`, so a replay is
refused) and launches the patient chart with SMART (`smart_launches` holds the PKCE
verifier between the redirect and the callback; the session it opens is for the launch's
patient only, `web_sessions.patient_id`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.storage.base

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = monitor.storage.base.UTCDateTime(timezone=True)
    op.create_table(
        'ehr_clients',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issuer', sa.String(length=300), nullable=False),
        sa.Column('label', sa.String(length=200), nullable=False),
        sa.Column('jwks', sa.Text(), nullable=True),
        sa.Column('jwks_url', sa.String(length=500), nullable=True),
        sa.Column('fhir_server', sa.String(length=300), nullable=True),
        sa.Column('smart_client_id', sa.String(length=200), nullable=True),
        sa.Column('launch_role', sa.String(length=32), nullable=False),
        sa.Column('created_at', when, nullable=False),
        sa.Column('revoked_at', when, nullable=True),
        sa.ForeignKeyConstraint(['launch_role'], ['roles.name']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('issuer'),
        sa.UniqueConstraint('fhir_server'),
    )
    op.create_table(
        'ehr_token_uses',
        sa.Column('key', sa.String(length=128), nullable=False),
        sa.Column('expires_at', when, nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_index('ix_ehr_token_uses_expires_at', 'ehr_token_uses', ['expires_at'])
    op.create_table(
        'smart_launches',
        sa.Column('state_hash', sa.String(length=128), nullable=False),
        sa.Column('ehr_client_id', sa.Integer(), nullable=False),
        sa.Column('code_verifier', sa.String(length=128), nullable=False),
        sa.Column('token_endpoint', sa.String(length=500), nullable=False),
        sa.Column('created_at', when, nullable=False),
        sa.Column('expires_at', when, nullable=False),
        sa.ForeignKeyConstraint(['ehr_client_id'], ['ehr_clients.id']),
        sa.PrimaryKeyConstraint('state_hash'),
    )
    with op.batch_alter_table('web_sessions') as batch:
        batch.add_column(sa.Column('patient_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_web_sessions_patient_id_patients', 'patients',
                                 ['patient_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('web_sessions') as batch:
        batch.drop_constraint('fk_web_sessions_patient_id_patients', type_='foreignkey')
        batch.drop_column('patient_id')
    op.drop_table('smart_launches')
    op.drop_index('ix_ehr_token_uses_expires_at', table_name='ehr_token_uses')
    op.drop_table('ehr_token_uses')
    op.drop_table('ehr_clients')
