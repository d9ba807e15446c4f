"""Replay of result identity and removals: what `sodium-monitor replay` ends with, and the
rejects it reports (clinical contract v2, items 2 and 10)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitor.engine.policy import built_in
from monitor.ingest.dispatch import parse_text
from monitor.services.replay.replayer import Replay
from tests.conftest import DATA
from tests.hl7_builders import oru

HEADER = "patient_id,collected_at,sodium,result_id,status,specimen\n"
T0 = datetime(2026, 10, 5, 7, tzinfo=UTC)


def replay(*files: tuple[str, str]) -> Replay:
    run = Replay(built_in("default"))
    for name, text in files:
        for item in parse_text(name, text, "auto", ZoneInfo("UTC")):
            run.apply(item)
    return run


def active(run: Replay) -> dict[str, dict[str, Any]]:
    return {a["rule"]: a for a in run.alerts() if a["state"] == "active"}


def rejects(run: Replay) -> list[tuple[str, str]]:
    return [(r.position, r.reason.split(":")[0]) for r in run.rejects]


def row(hours: float, value: float | str, result_id: str = "", status: str = "",
        specimen: str = "") -> str:
    at = (T0 + timedelta(hours=hours)).isoformat()
    return f"P1,{at},{value},{result_id},{status},{specimen}\n"


def test_v2_03_a_blood_gas_value_at_the_lab_minute_keeps_the_lab_nadir() -> None:
    path: Path = DATA / "examples_v2" / "V2-03.csv"
    run = replay((path.name, path.read_text()))
    alerts = active(run)
    assert alerts["SEVERE_HYPONATREMIA"]["severity"] == "critical"
    assert alerts["SEVERE_HYPONATREMIA"]["value_mmol_l"] == 117
    rise = alerts["OVERCORRECTION_24H"]
    assert (rise["severity"], rise["rise_mmol_l"], rise["mixed_methods"]) == (
        "critical", 9, True)
    assert run.rejects == [] and run.results == 3


def test_a_different_value_under_the_same_inferred_identity_is_a_conflicting_duplicate() -> None:
    text = HEADER + row(0, 117) + row(0, 121) + row(0, 117) + row(14, 126)
    run = replay(("f.csv", text))
    assert rejects(run) == [("f.csv:3", "conflicting duplicate")]
    assert "117 mmol/L" in run.rejects[0].reason and run.rejects[0].payload == "121"
    alerts = active(run)  # the nadir 117 stands: +9 by 14 h
    assert alerts["OVERCORRECTION_24H"]["rise_mmol_l"] == 9
    assert alerts["SEVERE_HYPONATREMIA"]["value_mmol_l"] == 117
    assert run.results == 3  # the identical re-send is a harmless duplicate, not a reject


def test_a_correction_under_an_inferred_identity_replaces_the_value() -> None:
    text = HEADER + row(0, 117) + row(14, 126) + row(0, 121, status="corrected")
    run = replay(("f.csv", text))
    assert run.rejects == []
    assert "OVERCORRECTION_24H" not in active(run)
    assert "SEVERE_HYPONATREMIA" not in active(run)


def test_a_final_after_its_preliminary_replaces_it_under_an_inferred_identity() -> None:
    text = HEADER + row(0, 119, status="preliminary") + row(0, 117) + row(14, 126)
    run = replay(("f.csv", text))
    assert run.rejects == []
    assert active(run)["OVERCORRECTION_24H"]["rise_mmol_l"] == 9


def test_a_final_re_sent_after_removal_is_ignored_and_reported() -> None:
    text = HEADER + row(0, 117, "R1") + row(14, 126, "R2") + \
        row(0, "", "R1", "entered-in-error") + row(0, 117, "R1") + row(0, 117, "R1", "preliminary")
    run = replay(("f.csv", text))
    assert active(run) == {}
    assert rejects(run) == [("f.csv:5", "re-sent after removal"),
                            ("f.csv:6", "re-sent after removal")]
    assert run.results == 3


def test_a_correction_after_removal_brings_the_result_back() -> None:
    text = HEADER + row(0, 117, "R1") + row(14, 126, "R2") + \
        row(0, "", "R1", "entered-in-error") + row(0, 117, "R1", "corrected")
    run = replay(("f.csv", text))
    assert run.rejects == []
    assert set(active(run)) == {"OVERCORRECTION_24H", "SEVERE_HYPONATREMIA"}


def test_a_removal_that_arrives_before_its_final_keeps_it_removed() -> None:
    text = HEADER + row(0, "", "R1", "cancelled") + row(0, 117, "R1")
    run = replay(("f.csv", text))
    assert active(run) == {}
    assert rejects(run) == [("f.csv:3", "re-sent after removal")]


def test_hl7_a_final_after_d_is_refused_and_a_c_restores() -> None:
    final = oru("MRN1", "A1", T0, 117, control_id="M1")
    removed = oru("MRN1", "A1", T0, "", status="D", control_id="M2")
    again = oru("MRN1", "A1", T0, 117, control_id="M3")
    run = replay(("a.hl7", "\n".join([final, removed, again])))
    assert active(run) == {}
    (reject,) = run.rejects
    assert "M3" in reject.position and reject.reason.startswith("re-sent after removal")
    corrected = oru("MRN1", "A1", T0, 117, status="C", control_id="M4")
    run = replay(("a.hl7", "\n".join([final, removed, again, corrected])))
    assert set(active(run)) == {"SEVERE_HYPONATREMIA"}


def observation(status: str, value: float | None = 117) -> str:
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": "obs-1", "status": status,
        "code": {"coding": [{"system": "http://loinc.org", "code": "2951-2"}]},
        "subject": {"reference": "Patient/pat-1"}, "effectiveDateTime": T0.isoformat()}
    if value is not None:
        resource["valueQuantity"] = {"value": value, "unit": "mmol/L",
                                     "system": "http://unitsofmeasure.org", "code": "mmol/L"}
    return json.dumps(resource)


def test_fhir_final_after_entered_in_error_is_refused_and_amended_restores() -> None:
    lines = [observation("final"), observation("entered-in-error", None), observation("final")]
    run = replay(("f.ndjson", "\n".join(lines) + "\n"))
    assert active(run) == {}
    assert [r.reason.split(":")[0] for r in run.rejects] == ["re-sent after removal"]
    run = replay(("f.ndjson", "\n".join([*lines, observation("amended")]) + "\n"))
    assert set(active(run)) == {"SEVERE_HYPONATREMIA"}


def test_a_split_replay_counts_each_unused_code_once(monkeypatch: Any) -> None:
    from monitor.services.replay import run

    lines = []
    for n in range(6):
        subject = {"reference": f"Patient/p{n}"}
        lines += [
            {"resourceType": "Observation", "id": f"hb{n}", "status": "final",
             "subject": subject, "effectiveDateTime": "2026-10-05T07:00:00+00:00",
             "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
             "valueQuantity": {"value": 13, "unit": "g/dL"}},
            {"resourceType": "Condition", "id": f"htn{n}", "subject": subject,
             "clinicalStatus": {"coding": [{"code": "active"}]},
             "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]}}]
    inputs = [("feed.ndjson", "\n".join(json.dumps(line) for line in lines))]
    zone, policy = ZoneInfo("UTC"), built_in("default")
    whole = run.replay(inputs, "auto", zone, policy, processes=1)
    monkeypatch.setattr(run, "PARALLEL_MIN_CHARS", 0)
    split = run.replay(inputs, "auto", zone, policy, processes=3)

    assert whole.unused == split.unused == {("http://loinc.org", "718-7"): 6,
                                            ("ICD-10", "I10"): 6}
