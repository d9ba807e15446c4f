from sqlalchemy import create_engine, inspect

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
