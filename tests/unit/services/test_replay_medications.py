"""Replay states medications to the ledger with the hospital's code map (SODIUM_MEDICATION_MAP)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from monitor.engine.policy import built_in
from monitor.ingest.dispatch import parse_text
from monitor.services.replay.replayer import Replay

CSV = ("patient_id,given_at,medication,code,kind\n"
       "P1,2026-09-14T09:00:00+00:00,Ward stock item 7,LOCAL7,order\n")
SODIUM = "patient_id,collected_at,sodium\nP1,2026-09-14T08:00:00+00:00,131\n"


def rules(code_map: dict[str, str]) -> list[str]:
    run = Replay(built_in("default"), medication_map=code_map)
    for name, text in (("na.csv", SODIUM), ("meds.csv", CSV)):
        for item in parse_text(name, text, "csv", ZoneInfo("UTC")):
            run.apply(item)
    return [a["rule"] for a in run.alerts()]


def test_the_code_map_names_what_the_text_does_not() -> None:
    assert rules({}) == []  # "Ward stock item 7" is unknown: never guessed
    assert rules({"LOCAL7": "hypertonic-saline"}) == ["HYPERTONIC_SALINE_MILD"]
