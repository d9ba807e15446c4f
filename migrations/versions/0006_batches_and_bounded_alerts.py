"""batches and bounded alerts: 64-bit ids, inbox leases, evidence as rows

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 16:00:00

- inbox, results, alert_events (and the columns naming them) get 64-bit ids;
- inbox rows get `lease_until` (workers claim batches by lease) and `items` (what the
  intake parsed, so the worker does not parse it again);
- results' arrival sequence becomes inbox id x 2^20 + position (was x 10,000), and the
  unused `superseded_by_id` goes;
- an alert's evidence moves from a JSON column rewritten on every finding to
  `alert_evidence` rows, the alert keeping a summary (count, first, worst, latest keys).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import monitor.storage.base

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_WIDEN = [
    ("inbox", "id"), ("inbox_patients", "inbox_id"), ("rejects", "inbox_id"),
    ("rejects", "retry_inbox_id"), ("results", "id"), ("results", "inbox_id"),
    ("alerts", "triggering_result_id"), ("alert_events", "id"),
]


def _rank(f: dict[str, Any]) -> float:
    critical, score, _ = _badness(f)
    return (1e6 if critical else 0.0) + score


def _badness(f: dict[str, Any]) -> tuple[bool, float, str]:
    # The engine's `reconcile.badness`, on the stored JSON (the migration must not import
    # code that may change after it).
    rule, value, rise = f["rule"], f["value_mmol_l"], f.get("rise_mmol_l") or 0.0
    score = {"SEVERE_HYPONATREMIA": -value, "HYPERNATREMIA": value,
             "FALLING_SODIUM": -rise}.get(rule, rise)
    return (f["severity"] == "critical", score, f["collected_at"])


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        for table, column in _WIDEN:
            op.alter_column(table, column, existing_type=sa.Integer(), type_=sa.BigInteger())
        for table in ("inbox", "results", "alert_events"):  # their ids' sequences too
            op.execute(f"ALTER SEQUENCE IF EXISTS {table}_id_seq AS bigint")
    op.add_column('inbox', sa.Column('lease_until', monitor.storage.base.UTCDateTime(),
                                     nullable=True))
    op.add_column('inbox', sa.Column('items', sa.JSON(), nullable=True))
    op.create_index('ix_results_result_key', 'results', ['result_key'], unique=False)
    op.create_index('ix_patients_identifier_authority', 'patients',
                    ['identifier', 'authority'], unique=False)
    op.create_index('ix_inbox_pending', 'inbox', ['id'], unique=False,
                    postgresql_where=sa.text("state = 'pending'"),
                    sqlite_where=sa.text("state = 'pending'"))
    op.execute("UPDATE results SET arrival_seq = inbox_id * 1048576 + "
               "(arrival_seq - inbox_id * 10000) WHERE inbox_id IS NOT NULL")
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.drop_constraint('fk_results_superseded_by_id_results', type_='foreignkey')
        batch_op.drop_column('superseded_by_id')

    op.create_table(
        'alert_evidence',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.Column('result_key', sa.String(length=420), nullable=False),
        sa.Column('collected_at', monitor.storage.base.UTCDateTime(), nullable=False),
        sa.Column('finding', sa.JSON(), nullable=False),
        sa.Column('rank', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'],
                                name=op.f('fk_alert_evidence_alert_id_alerts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_evidence')),
        sa.UniqueConstraint('alert_id', 'result_key',
                            name=op.f('uq_alert_evidence_alert_id_result_key')),
    )
    op.create_index('ix_alert_evidence_alert_collected', 'alert_evidence',
                    ['alert_id', 'collected_at'], unique=False)
    op.create_index('ix_alert_evidence_alert_rank', 'alert_evidence', ['alert_id', 'rank'],
                    unique=False)
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evidence_count', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('first_key', sa.String(length=420), nullable=True))
        batch_op.add_column(sa.Column('worst_key', sa.String(length=420), nullable=True))
        batch_op.add_column(sa.Column('latest_key', sa.String(length=420), nullable=True))

    alerts = sa.table('alerts', sa.column('id', sa.Integer()), sa.column('rule', sa.String()),
                      sa.column('evidence', sa.JSON()),
                      sa.column('evidence_count', sa.Integer()),
                      sa.column('first_key', sa.String()), sa.column('worst_key', sa.String()),
                      sa.column('latest_key', sa.String()))
    evidence = sa.table('alert_evidence', sa.column('alert_id', sa.Integer()),
                        sa.column('result_key', sa.String()),
                        sa.column('collected_at', monitor.storage.base.UTCDateTime()),
                        sa.column('finding', sa.JSON()), sa.column('rank', sa.Float()))
    for alert_id, rule, stored in bind.execute(sa.select(alerts.c.id, alerts.c.rule,
                                                         alerts.c.evidence)).all():
        found = stored if isinstance(stored, dict) else json.loads(stored or "{}")
        if rule == "MEASUREMENT_OVERDUE":
            bind.execute(alerts.update().where(alerts.c.id == alert_id).values(
                latest_key=next(iter(found), None)))
            continue
        if not found:
            continue
        bind.execute(evidence.insert(), [
            {"alert_id": alert_id, "result_key": key, "finding": f, "rank": _rank(f),
             "collected_at": datetime.fromisoformat(f["collected_at"])}
            for key, f in found.items()])
        items = list(found.items())
        bind.execute(alerts.update().where(alerts.c.id == alert_id).values(
            evidence_count=len(items),
            first_key=min(items, key=lambda kv: (kv[1]["collected_at"], kv[0]))[0],
            worst_key=max(items, key=lambda kv: _badness(kv[1]))[0],
            latest_key=max(items, key=lambda kv: (kv[1]["collected_at"], kv[0]))[0]))
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.alter_column('evidence_count', server_default=None)
        batch_op.drop_column('evidence')


def downgrade() -> None:
    raise NotImplementedError("0006 is not reversible: restore the backup taken before it")
