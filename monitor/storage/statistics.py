"""Planner statistics kept fresh on PostgreSQL while tables grow fast.

A batch loads its patients with `IN` lists and per-patient ranges, whose plans depend on the
planner's idea of how many rows a patient has. Autovacuum re-analyses a table only after
50 + 10 % of its rows changed and looks at most once a minute, so a database that fills at
1,000 results a second (a new site's backfill, a feed reconnecting after an outage) is
planned for minutes on statistics from when it was nearly empty: sequential scans where
index scans belong, and the worker's cost per result doubled in the 100,000-result run
(docs/benchmarks.md). The scheduler analyses our tables sooner instead: ANALYZE samples a
bounded number of rows, so the cost per run is bounded whatever the table's size, and the
growth threshold keeps a quiet database from being analysed at all.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from monitor.storage.base import Base

# Analyse when this many rows changed since the last analysis, or this share of the table:
# steady hospital traffic stays under it and is left to autovacuum.
MIN_CHANGED_ROWS = 2_000
CHANGED_SHARE = 0.2

# Two schedulers must not analyse the same tables at once (ANALYZE of one table waits for
# another's); the second skips its run.
ANALYSE_LOCK = 0x50D1_57A7


def refresh_statistics(session: Session) -> list[str]:
    """ANALYZE the project's tables that grew or changed enough since their last analysis
    (by anyone: autovacuum counts too). Returns the tables analysed; nothing on SQLite."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    if not session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                           {"k": ANALYSE_LOCK}).scalar():
        return []
    ours = set(Base.metadata.tables)
    rows = session.execute(text(
        "SELECT relname FROM pg_stat_user_tables"
        " WHERE schemaname = current_schema()"
        " AND n_mod_since_analyze > GREATEST(:floor, :share * n_live_tup)"),
        {"floor": MIN_CHANGED_ROWS, "share": CHANGED_SHARE}).scalars()
    stale = sorted(name for name in rows if name in ours)
    for name in stale:
        # The name comes from our own metadata, never from input.
        session.execute(text(f'ANALYZE "{name}"'))
    session.commit()
    return stale
