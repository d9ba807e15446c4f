"""The examples' expected.json, checked against alert JSON (from replay or the live API)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).parent / "data" / "examples"
SCENARIOS: list[dict[str, Any]] = json.loads((EXAMPLES / "expected.json").read_text())
RATE_RULES = {"OVERCORRECTION_24H", "OVERCORRECTION_48H", "PROJECTED_OVERCORRECTION"}


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _active(alerts: list[dict[str, Any]], rule: str) -> list[datetime]:
    return sorted(when(a["triggered_at"]) for a in alerts
                  if a["rule"] == rule and a["state"] == "active")


def problems(scenario: dict[str, Any], alerts: list[dict[str, Any]]) -> list[str]:
    """What does not hold of a scenario's expectation; empty when all holds."""
    mine = [a for a in alerts if a["patient_id"] == scenario["patient_id"]]
    expect, bad = scenario["expect"], []
    if expect.get("none") and [a for a in mine
                               if a["rule"] in RATE_RULES and a["state"] == "active"]:
        bad.append("a correction-rate alert is active")
    for key, rule in (("c24", "OVERCORRECTION_24H"), ("c48", "OVERCORRECTION_48H")):
        if key in expect:
            got = _active(mine, rule)
            want = when(expect[key]) if expect[key] else None
            if (got[0] if got else None) != want:
                bad.append(f"{rule}: {got} != {want}")
    if "count_c24" in expect and len(_active(mine, "OVERCORRECTION_24H")) != expect["count_c24"]:
        bad.append(f"count of OVERCORRECTION_24H != {expect['count_c24']}")
    if expect.get("proj_by"):
        got = [when(a["triggered_at"]) for a in mine if a["rule"] == "PROJECTED_OVERCORRECTION"]
        if not got or min(got) > when(expect["proj_by"]):
            bad.append(f"no PROJECTED_OVERCORRECTION by {expect['proj_by']}")
    if "withdrawn" in expect:
        states = [a["state"] for a in mine if a["rule"] == expect["withdrawn"]]
        if "withdrawn" not in states or "active" in states:
            bad.append(f"{expect['withdrawn']} states {states}")
    if "severe" in expect and any(
            a["rule"] == "SEVERE_HYPONATREMIA" for a in mine) != expect["severe"]:
        bad.append("SEVERE_HYPONATREMIA presence differs")
    return bad
