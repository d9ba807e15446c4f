from datetime import UTC, datetime

from sqlalchemy import create_engine, inspect, text

from monitor.storage.migrate import upgrade
from tests.integration.conftest import reset_schema
from tests.migration_check import upgrade_and_compare


def test_empty_postgres_upgrades_to_head_with_no_difference_from_models(pg_url: str) -> None:
    reset_schema(pg_url)
    engine = create_engine(pg_url)
    try:
        assert upgrade_and_compare(pg_url, engine) == []
        indexes = {i["name"] for i in inspect(engine).get_indexes("results")}
        assert "ix_results_patient_analyte_collected" in indexes
    finally:
        engine.dispose()


def test_0008_gives_a_mark_made_before_it_the_onset_a_mark_without_one_takes_now(
        pg_url: str) -> None:
    # The onset defaults to the time of marking; the episode time it named stays on record.
    reset_schema(pg_url)
    engine = create_engine(pg_url)
    try:
        upgrade(pg_url, "0007")
        with engine.begin() as c:
            c.execute(text("INSERT INTO patients (authority, identifier, created_at, "
                           "updated_at) VALUES ('', 'P1', now(), now())"))
            c.execute(text(
                "INSERT INTO episode_marks (patient_id, episode_start, acute, reason, "
                "marked_by, marked_at) VALUES (1, '2026-09-01T08:00:00Z', true, 'onset < 48 h',"
                " 'dr.a', '2026-09-02T10:00:00Z')"))
        upgrade(pg_url)
        with engine.connect() as c:
            row = c.execute(text("SELECT onset_at, episode_start FROM episode_marks")).one()
        assert row == (datetime(2026, 9, 2, 10, tzinfo=UTC), datetime(2026, 9, 1, 8, tzinfo=UTC))
    finally:
        engine.dispose()
        reset_schema(pg_url)  # empty and at head, as the other tests expect it
        upgrade(pg_url)
