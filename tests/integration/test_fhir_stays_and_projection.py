"""Issue 18 items 5 and 6 in the shapes a FHIR Bulk export sends (Patient with the MRN,
Observations referring to "Patient/{id}", one file per type), replayed and live on
PostgreSQL: a readmission a week later with the same severe sodium is a new alert, the first
resolved when its stay ended (a FHIR-only feed sends no discharge: the gap ends the stay);
a two-point rise of 4 from a mild baseline projects nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from monitor.engine.policy import load_policy
from monitor.runtime import Runtime
from monitor.services.replay import run
from tests import fhir_cohort as cohort
from tests.integration.helpers import alerts
from tests.integration.test_fhir_identity import fhir_client, post

# pt-1: severe in March, readmitted a week later, severe again. pt-2: high risk (cirrhosis),
# 127 -> 131 in 8 h, two values: within the analytic error, no projection.
SODIUM = {"pt-1": [("2026-03-02T06:00:00+01:00", 117), ("2026-03-09T08:00:00+01:00", 116)],
          "pt-2": [("2026-03-04T06:00:00+01:00", 127), ("2026-03-04T14:00:00+01:00", 131)]}


def observations() -> list[dict[str, Any]]:
    return [{"resourceType": "Observation", "id": f"{pid}-na-{n}", "status": "final",
             "code": {"coding": [{"system": cohort.LOINC, "code": "2951-2"}]},
             "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": when,
             "valueQuantity": {"value": value, "unit": "mmol/L"}}
            for pid, values in SODIUM.items() for n, (when, value) in enumerate(values)]


def cirrhosis() -> dict[str, Any]:
    return {"resourceType": "Condition", "id": "pt-2-dx",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "K74.6"}]},
            "subject": {"reference": "Patient/pt-2"}}


def summary(found: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((a["patient_id"], a["rule"], a["triggered_at"], a["state"],
                   a["withdrawn_reason"]) for a in found)


EXPECTED = [
    ("MRN-1001", "SEVERE_HYPONATREMIA", "2026-03-02T05:00:00+00:00", "resolved",
     "stay ended: no sodium for more than 72 h after 05:00 on 2 Mar"),
    ("MRN-1001", "SEVERE_HYPONATREMIA", "2026-03-09T07:00:00+00:00", "active", None),
]


def test_a_bulk_export_replayed_binds_standing_alerts_to_stays_and_projects_on_evidence(
        tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    for kind, resources in (("Observation", observations()), ("Condition", [cirrhosis()]),
                            ("Patient", [cohort.patient("pt-1"), cohort.patient("pt-2")])):
        (export / f"{kind}.ndjson").write_text("".join(json.dumps(r) + "\n" for r in resources))
    inputs = [(p.name, p.read_text()) for p in sorted(export.glob("*.ndjson"))]
    out = run.replay(inputs, "auto", ZoneInfo("UTC"), load_policy("default"))
    assert out.rejects == []
    assert summary(out.alerts) == EXPECTED  # nothing for pt-2: no projection on two values


def test_live_fhir_binds_standing_alerts_to_stays_and_projects_on_evidence(
        rt: Runtime, pg_engine: Engine) -> None:
    http = fhir_client(rt)
    for resource in [cohort.patient("pt-1"), cohort.patient("pt-2"), cirrhosis(),
                     *observations()]:
        assert post(rt, http, f"/fhir/{resource['resourceType']}", resource) == 201
    assert summary(alerts(pg_engine)) == EXPECTED
