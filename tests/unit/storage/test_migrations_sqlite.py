from pathlib import Path

from sqlalchemy import inspect

from monitor.storage.db import make_engine
from tests.migration_check import upgrade_and_compare


def test_empty_sqlite_upgrades_to_head_with_no_difference_from_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = make_engine(url)
    assert upgrade_and_compare(url, engine) == []
    assert {"results", "alerts", "inbox", "rejects", "audit_log"} <= set(
        inspect(engine).get_table_names()
    )
