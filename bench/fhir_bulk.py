"""Benchmark of `sodium-monitor replay` on a FHIR Bulk Data export (issue 18 item 4).

    .venv/bin/python bench/fhir_bulk.py [--patients 540] [--observations 217000] [--runs 3]

Generates a synthetic export in the Bulk Data layout (Patient.ndjson with MRNs,
Observation.ndjson whose subjects are "Patient/{id}", Condition.ndjson, manifest.json; the
shapes of tests/fhir_cohort.py): a few sodium and potassium results per patient-day among
many other lab results (full blood count, renal panel, ...), as an EHR exports them. A second
export holds the same Patients and Conditions and only the sodium and potassium lines. The
real `replay` command is run on each (the median of `--runs`), and the ratio printed: the
target is the whole export within 2x of its sodium and potassium lines alone.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.replay import trajectory  # noqa: E402
from tests.fhir_cohort import ICD10_CM, LOINC, MRN_SYSTEM  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)
SODIUM, POTASSIUM = ("2951-2", "Sodium [Moles/volume] in Serum or Plasma"), \
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma")
# Codes we do not follow, with a plausible value range and unit: the bulk of an export.
OTHER = [
    ("6690-2", "Leukocytes [#/volume] in Blood", (4, 11), "10*3/uL"),
    ("789-8", "Erythrocytes [#/volume] in Blood", (3.8, 5.8), "10*6/uL"),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", (9, 16), "g/dL"),
    ("4544-3", "Hematocrit [Volume Fraction] of Blood", (28, 48), "%"),
    ("787-2", "MCV [Entitic volume]", (80, 100), "fL"),
    ("785-6", "MCH [Entitic mass]", (27, 33), "pg"),
    ("786-4", "MCHC [Mass/volume]", (32, 36), "g/dL"),
    ("777-3", "Platelets [#/volume] in Blood", (150, 400), "10*3/uL"),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", (0.6, 2.5), "mg/dL"),
    ("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", (7, 40), "mg/dL"),
    ("2075-0", "Chloride [Moles/volume] in Serum or Plasma", (95, 110), "mmol/L"),
    ("1963-8", "Bicarbonate [Moles/volume] in Serum or Plasma", (20, 30), "mmol/L"),
    ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", (8.5, 10.5), "mg/dL"),
    ("1742-6", "ALT [Enzymatic activity/volume] in Serum or Plasma", (7, 60), "U/L"),
    ("8867-4", "Heart rate", (55, 120), "/min"),
    ("8310-5", "Body temperature", (36, 39), "Cel"),
]
CIRRHOSIS = "K70.30"


def resource_patient(n: int) -> dict[str, Any]:
    pid = f"pt-{n:05d}"
    return {"resourceType": "Patient", "id": pid, "meta": {"profile": [
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]}, "identifier": [
        {"system": "urn:ehr:internal", "value": f"int-{n}"},
        {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                              "code": "MR"}]}, "system": MRN_SYSTEM, "value": f"MRN-{n:06d}"}],
        "name": [{"use": "official", "family": f"Bench{n}", "given": ["Ana"]}],
        "gender": "female" if n % 2 else "male", "birthDate": "1950-04-02"}


def observation(oid: str, pid: str, at: datetime, code: tuple[str, str], value: float,
                unit: str) -> dict[str, Any]:
    """An Observation as EHR exports write them: category, display, encounter, issued."""
    return {
        "resourceType": "Observation", "id": oid,
        "meta": {"lastUpdated": (at + timedelta(hours=1)).isoformat()},
        "identifier": [{"system": "urn:ehr:lab-result", "value": oid}],
        "status": "final",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "laboratory", "display": "Laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": code[0], "display": code[1]}],
                 "text": code[1]},
        "subject": {"reference": f"Patient/{pid}"},
        "encounter": {"reference": f"Encounter/enc-{pid}"},
        "effectiveDateTime": at.isoformat(),
        "issued": (at + timedelta(minutes=45)).isoformat(),
        "valueQuantity": {"value": value, "unit": unit,
                          "system": "http://unitsofmeasure.org", "code": unit},
    }


def generate(folder: Path, patients: int, observations: int, seed: int) -> dict[str, int]:
    """Write the whole export to `folder` and its Na/K lines to `folder`-nak; the counts."""
    rng = random.Random(seed)
    nak = folder.with_name(folder.name + "-nak")
    for f in (folder, nak):
        f.mkdir(parents=True, exist_ok=True)
    people = [resource_patient(n) for n in range(patients)]
    conditions = [{
        "resourceType": "Condition", "id": f"{p['id']}-dx",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                       "condition-clinical", "code": "active"}]},
        "code": {"coding": [{"system": ICD10_CM, "code": CIRRHOSIS}]},
        "subject": {"reference": f"Patient/{p['id']}"}, "recordedDate": "2026-01-01"}
        for p in people if rng.random() < 0.08]
    per_patient = observations // patients
    counts = {"patients": patients, "conditions": len(conditions), "observations": 0,
              "sodium_potassium": 0}
    with (folder / "Observation.ndjson").open("w") as everything, \
            (nak / "Observation.ndjson").open("w") as ours:
        for p in people:
            pid = str(p["id"])
            admitted = START + timedelta(minutes=rng.randrange(60 * 24 * 30))
            # About one line in 20 is a sodium or a potassium, as in the export.
            draws = max(2, per_patient // 40)
            for n, (hours, value) in enumerate(trajectory(rng, draws)):
                at = admitted + timedelta(hours=hours)
                lines = [observation(f"{pid}-na-{n}", pid, at, SODIUM, value, "mmol/L"),
                         observation(f"{pid}-k-{n}", pid, at, POTASSIUM,
                                     round(rng.uniform(3.0, 5.2), 1), "mmol/L")]
                for line in lines:
                    text = json.dumps(line) + "\n"
                    everything.write(text)
                    ours.write(text)
                others = per_patient // draws - 2
                for m in range(others):
                    code, display, (low, high), unit = OTHER[m % len(OTHER)]
                    everything.write(json.dumps(observation(
                        f"{pid}-{code}-{n}-{m}", pid, at, (code, display),
                        round(rng.uniform(low, high), 1), unit)) + "\n")
                counts["observations"] += 2 + others
                counts["sodium_potassium"] += 2
    for f in (folder, nak):
        for kind, resources in (("Patient", people), ("Condition", conditions)):
            (f / f"{kind}.ndjson").write_text("".join(json.dumps(r) + "\n" for r in resources))
        (f / "manifest.json").write_text(json.dumps({
            "transactionTime": "2026-03-01T00:00:00Z", "request": "https://ehr.example/$export",
            "requiresAccessToken": True, "error": [], "output": [
                {"type": kind, "url": f"https://ehr.example/bulk/{kind}.ndjson"}
                for kind in ("Patient", "Observation", "Condition")]}))
    return counts


def timed(manifest: Path, out: Path, runs: int) -> tuple[float, int]:
    """Median wall seconds of `sodium-monitor replay MANIFEST` and its number of alerts."""
    cli = Path(sys.executable).parent / "sodium-monitor"
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([str(cli), "replay", "--timezone", "UTC", "--output", str(out),
                        str(manifest)], check=True, stderr=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds), len(out.read_text().splitlines())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=540)
    parser.add_argument("--observations", type=int, default=217_000)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("var/bench/fhir_bulk"))
    parser.add_argument("--no-generate", action="store_true", help="reuse the export")
    args = parser.parse_args()
    export = args.workdir / "export"
    counts = None if args.no_generate else generate(export, args.patients,
                                                    args.observations, args.seed)
    whole, whole_alerts = timed(export / "manifest.json", args.workdir / "whole.jsonl",
                                args.runs)
    nak = export.with_name(export.name + "-nak")
    ours, ours_alerts = timed(nak / "manifest.json", args.workdir / "nak.jsonl", args.runs)
    print(json.dumps({
        "counts": counts,
        "export_mib": round(sum(f.stat().st_size for f in export.iterdir()) / 2**20),
        "whole_seconds": round(whole, 2), "sodium_potassium_seconds": round(ours, 2),
        "ratio": round(whole / ours, 2),
        "alerts": {"whole": whole_alerts, "sodium_potassium": ours_alerts},
    }, indent=2))
    return 0 if whole_alerts == ours_alerts else 1


if __name__ == "__main__":
    sys.exit(main())
