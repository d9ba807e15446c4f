"""Result identity without ids on PostgreSQL (clinical contract v2, item 2): JSON rows
posted to `POST /api/v1/results` and CSV rows imported, without result_id, are keyed by
patient, collection time, analyte, method and code. A blood-gas value at the lab minute is
another result; a different value under the same identity is refused with a reject row."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.runtime import Runtime
from monitor.storage.tables import RejectRow, Result
from tests.integration.helpers import alerts, all_processed, feed_client
from tests.integration.stack import CLI, wait_for
from tests.integration.test_rejects import cli

START = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


def row(patient: str, hours: float, sodium: float, **more: Any) -> dict[str, Any]:
    return {"patient_id": patient,
            "collected_at": (START + timedelta(hours=hours)).isoformat(), "sodium": sodium,
            **more}


def active(engine: Engine, patient: str) -> dict[str, dict[str, Any]]:
    return {a["rule"]: a for a in alerts(engine, "active") if a["patient_id"] == patient}


def results(engine: Engine, patient_key: str) -> list[tuple[Any, ...]]:
    with Session(engine) as s:
        return [tuple(r) for r in s.execute(
            select(Result.value_mmol_l, Result.method, Result.is_current, Result.key_inferred)
            .where(Result.result_key.contains(patient_key)).order_by(Result.id))]


def reject_rows(engine: Engine) -> list[RejectRow]:
    with Session(engine) as s:
        rows = list(s.scalars(select(RejectRow).order_by(RejectRow.id)))
        s.expunge_all()
        return rows


@pytest.mark.integration
def test_rest_rows_without_ids_keep_the_lab_nadir_and_refuse_a_conflicting_duplicate(
        rt: Runtime, pg_engine: Engine) -> None:
    v2_03 = [row("ID001", 0, 117), row("ID001", 0, 121, specimen="venous blood gas"),
             row("ID001", 14, 126)]
    with feed_client(rt) as http:
        first = http.post("/api/v1/results", json=v2_03)
        assert first.status_code == 202, first.text
        assert first.json()["accepted"] == 3
        wait_for(lambda: all_processed(pg_engine, 1), 60, "the first body")
        found = active(pg_engine, "ID001")
        assert (found["SEVERE_HYPONATREMIA"]["severity"],
                found["SEVERE_HYPONATREMIA"]["value_mmol_l"]) == ("critical", 117)
        assert (found["OVERCORRECTION_24H"]["severity"],
                found["OVERCORRECTION_24H"]["rise_mmol_l"]) == ("critical", 9)
        assert found["OVERCORRECTION_24H"]["mixed_methods"] is True
        assert results(pg_engine, "|ID001|") == [(117, "lab", True, True),
                                                  (121, "poc", True, True),
                                                  (126, "lab", True, True)]
        assert reject_rows(pg_engine) == []

        # The lab value of 0 h again with another value, then as it was: the first is a
        # conflicting duplicate, the second a harmless re-send.
        again = http.post("/api/v1/results", json=[row("ID001", 0, 119), row("ID001", 0, 117)])
        assert again.status_code == 202, again.text
        wait_for(lambda: all_processed(pg_engine, 2), 60, "the second body")

    [reject] = reject_rows(pg_engine)
    assert reject.source == "json:LIS" and reject.inbox_id == again.json()["inbox_id"]
    assert reject.position == "body[0]" and reject.payload == "119"
    assert reject.reason.startswith("conflicting duplicate: ") and "117 mmol/L" in reject.reason
    found = active(pg_engine, "ID001")
    assert found["SEVERE_HYPONATREMIA"]["value_mmol_l"] == 117
    assert found["OVERCORRECTION_24H"]["rise_mmol_l"] == 9
    counted = [r for r in results(pg_engine, "|ID001|") if r[2]]
    assert sorted(r[0] for r in counted) == [117, 121, 126]  # 119 stored, never counted

    with feed_client(rt) as http:  # a correction is what replaces the value
        fixed = http.post("/api/v1/results", json=[row("ID001", 0, 119, status="corrected")])
        assert fixed.status_code == 202
        wait_for(lambda: all_processed(pg_engine, 3), 60, "the correction")
    assert len(reject_rows(pg_engine)) == 1
    found = active(pg_engine, "ID001")  # from 119 the rise is 7: within the limit 8
    assert "OVERCORRECTION_24H" not in found
    assert found["SEVERE_HYPONATREMIA"]["value_mmol_l"] == 119


@pytest.mark.integration
def test_an_imported_csv_is_keyed_as_replay_keys_it(
        rt: Runtime, pg_engine: Engine, pg_migrated: str, tmp_path: Path) -> None:
    feed = tmp_path / "backfill.csv"
    at = [(START + timedelta(hours=h)).isoformat() for h in (0, 14)]
    feed.write_text("patient_id,collected_at,sodium,specimen\n"
                    f"ID002,{at[0]},117,\nID002,{at[0]},121,arterial blood gas\n"
                    f"ID002,{at[0]},116,\nID002,{at[1]},126,\n")
    imported = cli(pg_migrated, "import", str(feed))
    assert imported.returncode == 0, imported.stderr
    replayed = subprocess.run([CLI, "replay", "--policy", "default", str(feed)],
                              capture_output=True, text=True, timeout=120)
    assert replayed.returncode == 0, replayed.stderr
    assert f"{feed}:4: rejected: conflicting duplicate" in replayed.stderr

    [reject] = reject_rows(pg_engine)
    assert reject.source == "import" and reject.reason.startswith("conflicting duplicate")
    assert set(active(pg_engine, "ID002")) == {"SEVERE_HYPONATREMIA", "OVERCORRECTION_24H"}
    assert active(pg_engine, "ID002")["SEVERE_HYPONATREMIA"]["value_mmol_l"] == 117
