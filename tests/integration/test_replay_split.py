"""A Bulk Data export replayed across processes gives what one process gives (issue 18 item
4): each process parses only the lines of its own patients where the text says whose they
are, and every line whose patient is not certain from its text (a subject identifier, a
contained Patient, a Patient only referred to, a line that is not JSON) is still counted
once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.engine.policy import load_policy
from monitor.ingest.bulk import manifest_files
from monitor.services.replay import run
from tests import fhir_cohort as cohort

PATIENTS = 24


def sodium(pid: str, n: int, value: float, **changes: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": f"{pid}-{n}", "status": "final",
            "code": {"coding": [{"system": cohort.LOINC, "code": "2951-2"}]},
            "subject": {"reference": f"Patient/{pid}"},
            "effectiveDateTime": f"2026-03-0{1 + n % 8 // 4}T{n % 4 * 6:02d}:00:00+00:00",
            "valueQuantity": {"value": value, "unit": "mmol/L"}, **changes}


def export(folder: Path) -> Path:
    """PATIENTS patients with MRNs, half of them corrected too fast, a full blood count
    beside each sodium, and the lines whose patient the text does not tell."""
    folder.mkdir()
    patients, observations, conditions = [], [], []
    for p in range(PATIENTS):
        pid = f"pt-{p}"
        patients.append({"resourceType": "Patient", "id": pid, "identifier": [
            {"system": cohort.MRN_SYSTEM, "value": f"MRN-{p}"}]})
        for n in range(8):
            value = 114 + n * (2.5 if p % 2 else 0.5)
            observations.append(sodium(pid, n, value))
            observations.append(sodium(pid, 100 + n, 13.5, code={"coding": [
                {"system": cohort.LOINC, "code": "718-7"}]}))
        if p % 3 == 0:
            conditions.append({**cohort.conditions()[0], "id": f"{pid}-dx",
                               "subject": {"reference": f"Patient/{pid}"}})
    observations += [
        sodium("pt-5", 50, 131, subject={"reference": "Patient/pt-5", "identifier": {
            "system": cohort.MRN_SYSTEM, "value": "MRN-2"}}),  # the identifier counts
        sodium("pt-2", 51, 116, subject={"reference": "#p"}, contained=[
            {"resourceType": "Patient", "id": "p", "identifier": [
                {"system": cohort.MRN_SYSTEM, "value": "MRN-5"}]}]),
        sodium("pt-no-patient", 1, 115), sodium("pt-no-patient", 2, 127),
        sodium("pt-4", 52, 120, status="unknown"),  # a reject
    ]
    lines = [json.dumps(o) for o in observations]
    lines.insert(7, json.dumps(sodium("pt-6", 53, 118))[:-1])  # not JSON: a reject
    lines.insert(9, json.dumps({"id": "first", **sodium("pt-7", 54, 117)}))
    for kind, rows in (("Patient", [json.dumps(r) for r in patients]), ("Observation", lines),
                       ("Condition", [json.dumps(r) for r in conditions])):
        (folder / f"{kind}.ndjson").write_text("".join(r + "\n" for r in rows))
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({"output": [
        {"type": kind, "url": f"https://ehr.example/bulk/{kind}.ndjson"}
        for kind in ("Observation", "Condition", "Patient")]}))
    return manifest


def test_parallel_replay_of_a_bulk_export_gives_the_serial_alerts_and_rejects(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = export(tmp_path / "export")
    inputs = [(name, (manifest.parent / name).read_text())
              for _, name in manifest_files(manifest.read_text())]

    def replayed(processes: int) -> run.Outcome:
        return run.replay(inputs, "auto", ZoneInfo("UTC"), load_policy("default"),
                          processes=processes)

    serial = replayed(1)
    monkeypatch.setattr(run, "PARALLEL_MIN_CHARS", 0)
    parallel = replayed(2)
    assert parallel.alerts == serial.alerts
    assert parallel.rejects == serial.rejects
    assert parallel.results == serial.results
    # The codes not used are counted once each, read or skipped unread, in one process or two.
    assert parallel.unused == serial.unused and serial.unused
    alerted = {a["patient_id"] for a in serial.alerts}
    assert {f"MRN-{p}" for p in range(1, PATIENTS, 2)} <= alerted  # both processes' patients
    assert {"MRN-2", "MRN-5", "pt-no-patient", "MRN-7"} <= alerted  # the uncertain lines
    assert {r.reason.split(":")[0] for r in serial.rejects} == {
        "invalid JSON", "status 'unknown' is not a usable result"}
