"""The scheduler's statistics job on real PostgreSQL: a table that grew fast is analysed
(the planner then sees its rows), one that did not is left to autovacuum, and two
schedulers running the job at once analyse once."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.runtime import Runtime
from monitor.scheduling.jobs import planner_statistics
from monitor.storage.db import make_engine
from monitor.storage.statistics import ANALYSE_LOCK, MIN_CHANGED_ROWS, refresh_statistics

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def grow_audit_log(engine: Engine, rows: int) -> None:
    with engine.begin() as c:
        c.execute(text("INSERT INTO audit_log (actor, action, at, details) "
                       "SELECT 'bench', 'grow', :now, '{}' FROM generate_series(1, :n)"),
                  {"now": NOW, "n": rows})


def planner_rows(engine: Engine, table: str) -> float:
    with engine.connect() as c:
        return float(c.execute(text("SELECT reltuples FROM pg_class WHERE relname = :t"),
                               {"t": table}).scalar_one())


def counted(engine: Engine, table: str, rows: int) -> None:
    """Table statistics reach pg_stat_user_tables when the writing backend flushes them
    (at most a second after its commit): wait for them rather than race."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with engine.connect() as c:
            c.execute(text("SELECT pg_stat_clear_snapshot()"))
            changed = c.execute(text("SELECT n_mod_since_analyze FROM pg_stat_user_tables "
                                     "WHERE relname = :t"), {"t": table}).scalar()
        if changed is not None and changed >= rows:
            return
        time.sleep(0.2)
    raise AssertionError(f"{table}: {rows} changed rows never counted")


def test_a_table_that_grew_fast_is_analysed_and_then_left_alone(pg_engine: Engine) -> None:
    rt = Runtime(Settings(database_url=str(pg_engine.url.render_as_string(False)),
                          broker_url=""))
    grow_audit_log(pg_engine, MIN_CHANGED_ROWS * 3)
    counted(pg_engine, "audit_log", MIN_CHANGED_ROWS * 3)

    assert "audit_log" in planner_statistics(rt)
    # The planner now knows the table's size, as it would after autovacuum's next visit.
    assert planner_rows(pg_engine, "audit_log") == MIN_CHANGED_ROWS * 3
    # Nothing changed since: nothing to do.
    assert "audit_log" not in planner_statistics(rt)
    rt.engine.dispose()


def test_a_small_change_is_left_to_autovacuum(pg_engine: Engine) -> None:
    grow_audit_log(pg_engine, MIN_CHANGED_ROWS // 4)
    counted(pg_engine, "audit_log", MIN_CHANGED_ROWS // 4)
    with pg_engine.connect() as c:
        assert "audit_log" not in refresh_statistics(Session(bind=c))


def test_a_second_scheduler_skips_while_the_first_analyses(pg_engine: Engine) -> None:
    grow_audit_log(pg_engine, MIN_CHANGED_ROWS * 2)
    counted(pg_engine, "audit_log", MIN_CHANGED_ROWS * 2)
    with pg_engine.connect() as first, pg_engine.connect() as second:
        first.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                      {"k": ANALYSE_LOCK})  # the first scheduler, mid-run
        assert refresh_statistics(Session(bind=second)) == []
        first.rollback()
        assert "audit_log" in refresh_statistics(Session(bind=second))


def test_sqlite_has_nothing_to_refresh(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/s.db")
    with Session(engine) as s:
        assert refresh_statistics(s) == []
    engine.dispose()
