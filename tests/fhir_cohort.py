"""A small cohort as an EHR's FHIR export sends it: Patients with MRNs, Observations that
refer to "Patient/{id}", a Condition, an Encounter and vital signs we do not follow; written
out in the layouts EHRs use (one NDJSON, a Bundle, a Bulk Data folder with its manifest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.9999.1"
LOINC = "http://loinc.org"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"

# id: (MRN, [(ISO time, sodium)], ICD-10-CM code or None)
COHORT: dict[str, tuple[str, list[tuple[str, float]], str | None]] = {
    # A rise of 11 in 20 h: over the standard 24 h limit.
    "pt-1": ("MRN-1001", [("2026-03-02T06:00:00+01:00", 114), ("2026-03-02T12:00:00+01:00", 118),
                          ("2026-03-02T18:00:00+01:00", 121), ("2026-03-03T02:00:00+01:00", 125)],
             None),
    # A rise of 9 in 22 h: over the limit only because of the cirrhosis (high risk).
    "pt-2": ("MRN-1002", [("2026-03-04T08:00:00+01:00", 116), ("2026-03-04T20:00:00+01:00", 121),
                          ("2026-03-05T06:00:00+01:00", 125)], "K70.30"),
    # One severe value.
    "pt-3": ("MRN-1003", [("2026-03-06T09:30:00+01:00", 117)], None),
}


def patient(pid: str) -> dict[str, Any]:
    mrn = COHORT[pid][0]
    return {"resourceType": "Patient", "id": pid, "identifier": [
        {"system": "urn:ehr:internal", "value": f"int-{pid}"},
        {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                              "code": "MR"}]}, "system": MRN_SYSTEM, "value": mrn}],
        "name": [{"use": "official", "family": f"Test{pid[-1]}", "given": ["Ana"]}],
        "gender": "female", "birthDate": "1950-04-02"}


def observations(pid: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n, (when, value) in enumerate(COHORT[pid][1]):
        out.append({"resourceType": "Observation", "id": f"{pid}-na-{n}", "status": "final",
                    "code": {"coding": [{"system": LOINC, "code": "2951-2"}]},
                    "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": when,
                    "valueQuantity": {"value": value, "unit": "mmol/L",
                                      "system": "http://unitsofmeasure.org", "code": "mmol/L"}})
        out.append({"resourceType": "Observation", "id": f"{pid}-hr-{n}", "status": "final",
                    "code": {"coding": [{"system": LOINC, "code": "8867-4"}]},
                    "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": when,
                    "valueQuantity": {"value": 88, "unit": "/min"}})
    return out


def conditions() -> list[dict[str, Any]]:
    return [{"resourceType": "Condition", "id": f"{pid}-dx",
             "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                            "condition-clinical", "code": "active"}]},
             "code": {"coding": [{"system": ICD10_CM, "code": code}]},
             "subject": {"reference": f"Patient/{pid}"}, "recordedDate": "2026-03-01"}
            for pid, (_, _, code) in COHORT.items() if code]


def encounters() -> list[dict[str, Any]]:
    return [{"resourceType": "Encounter", "id": f"{pid}-enc", "status": "finished",
             "class": {"code": "IMP"}, "subject": {"reference": f"Patient/{pid}"}}
            for pid in COHORT]


def by_type() -> dict[str, list[dict[str, Any]]]:
    return {"Patient": [patient(p) for p in COHORT],
            "Observation": [o for p in COHORT for o in observations(p)],
            "Condition": conditions(), "Encounter": encounters()}


def ndjson(patients_last: bool = True) -> str:
    """One NDJSON file; by default the Patients come last, after what refers to them."""
    kinds = by_type()
    order = ["Observation", "Condition", "Encounter", "Patient"] if patients_last else \
        ["Patient", "Observation", "Condition", "Encounter"]
    return "".join(json.dumps(r) + "\n" for k in order for r in kinds[k])


def bundle() -> str:
    resources = [r for k in ("Observation", "Condition", "Patient")
                 for r in by_type()[k]]
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": f"https://ehr.example/fhir/{r['resourceType']}/{r['id']}", "resource": r}
        for r in resources]})


def bulk(folder: Path) -> Path:
    """A Bulk Data export: one file per type and manifest.json (absolute URLs, as a server
    writes them); returns the manifest's path."""
    folder.mkdir(parents=True, exist_ok=True)
    output = []
    for kind, resources in by_type().items():
        (folder / f"{kind}.ndjson").write_text("".join(json.dumps(r) + "\n" for r in resources))
        output.append({"type": kind, "url": f"https://ehr.example/fhir/bulk/job-7/{kind}.ndjson",
                       "count": len(resources)})
    output.sort(key=lambda o: o["type"] == "Patient")  # Patients listed last on purpose
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({
        "transactionTime": "2026-03-07T00:00:00Z", "request": "https://ehr.example/fhir/$export",
        "requiresAccessToken": True, "output": output, "error": []}))
    return manifest
