"""Every example feed through the real `sodium-monitor replay` command (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA
from tests.expectations import EXAMPLES, SCENARIOS, problems

CLI = Path(sys.executable).parent / "sodium-monitor"


def replay(*args: str) -> tuple[list[dict[str, Any]], str]:
    run = subprocess.run([str(CLI), "replay", *args], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines() if line.strip()], run.stderr


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["patient_id"] for s in SCENARIOS])
def test_example_feed_produces_its_expected_alerts(scenario: dict[str, Any]) -> None:
    alerts, _ = replay("--policy", scenario["policy"], str(EXAMPLES / scenario["file"]))
    assert problems(scenario, alerts) == []


def test_alert_lines_carry_the_whole_contract() -> None:
    alerts, _ = replay(str(EXAMPLES / "MRN100001.hl7"))
    c24 = next(a for a in alerts if a["rule"] == "OVERCORRECTION_24H")
    assert c24["severity"] == "critical" and c24["state"] == "active"
    assert c24["triggered_at"] == "2026-09-14T20:00:00+00:00"
    # The alert shows its worst finding: 125 at 02:00, 11 above the 114 nadir.
    assert (c24["value_mmol_l"], c24["rise_mmol_l"], c24["limit_mmol_l"]) == (125, 11, 8)
    assert c24["window_hours"] == 24 and c24["risk_tier"] == "standard"
    assert c24["patient_authority"] == "CITYGEN" and c24["test"] is False
    assert "11 mmol/L" in c24["message"] and "8 mmol/L" in c24["message"]
    for field in ("alert_id", "risk_factors", "mixed_methods", "policy"):
        assert field in c24


def test_all_examples_in_one_run_equal_each_run_alone(tmp_path: Path) -> None:
    files = sorted(str(p) for p in EXAMPLES.iterdir() if p.suffix in {".hl7", ".ndjson", ".csv"})
    together, _ = replay(*files)
    apart = [a for f in files for a in replay(f)[0]]
    key = lambda a: (a["patient_id"], a["rule"], a["triggered_at"], a["state"])  # noqa: E731
    assert sorted(map(key, together)) == sorted(map(key, apart))


def test_rejects_are_reported_with_position_and_written_as_jsonl(tmp_path: Path) -> None:
    feed = tmp_path / "bad.csv"
    feed.write_text("patient_id,collected_at,sodium,unit\n"
                    "P1,2026-09-14T08:00:00+00:00,120,mmol/L\n"
                    "P1,2026-09-14T09:00:00+00:00,7.1,mg/dL\n"
                    "P1,2026-09-14T10:00:00+00:00,abc,mmol/L\n")
    out = tmp_path / "rejects.jsonl"
    _, stderr = replay("--rejects", str(out), str(feed))
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["position"] for r in lines] == [f"{feed}:3", f"{feed}:4"]
    assert "mg/dL" in lines[0]["reason"]
    assert f"{feed}:3" in stderr and "2 rejected" in stderr


def test_unreadable_file_exits_2(tmp_path: Path) -> None:
    run = subprocess.run([str(CLI), "replay", str(tmp_path / "missing.hl7")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "cannot read" in run.stderr


def test_standard_input_is_read_with_dash() -> None:
    feed = (EXAMPLES / "CSV300001.csv").read_text()
    run = subprocess.run([str(CLI), "replay", "--format", "csv", "-"], input=feed,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0
    rules = {json.loads(x)["rule"] for x in run.stdout.splitlines()}
    assert "OVERCORRECTION_24H" in rules


def test_acute_onsets_in_a_csv_feed_spare_the_rises_near_them_and_expire() -> None:
    alerts, _ = replay(str(DATA / "acute" / "acute_marks.csv"))
    rises = {(a["patient_id"], a["triggered_at"], a["state"]) for a in alerts
             if a["rule"] == "OVERCORRECTION_24H"}
    first, second = "2026-10-06T03:00:00+00:00", "2026-10-09T03:00:00+00:00"
    assert rises == {
        ("AC1", second, "active"),  # 121 drawn 73 h after the onset: chronic by then
        ("AC2", first, "withdrawn"), ("AC2", second, "active"),  # the mark came last
        ("AC3", first, "active"), ("AC3", second, "active"),  # no mark
    }
    [withdrawn] = [a for a in alerts if a["patient_id"] == "AC2" and a["state"] == "withdrawn"]
    assert withdrawn["withdrawn_reason"] == (
        "hyponatremia marked acute (onset 2026-10-05 06:00 UTC): no correction limit applies "
        "to a rise from a value collected within 48 h of the onset")
