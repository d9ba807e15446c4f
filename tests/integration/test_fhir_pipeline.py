"""FHIR examples and a transaction Bundle through the real API, Redis and a worker."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
from sqlalchemy import Engine

from monitor.storage.tables import Result
from tests.expectations import EXAMPLES, SCENARIOS, problems
from tests.integration.helpers import alerts, all_processed, count, reject_reasons
from tests.integration.stack import CLI, Stack, stack, wait_for

FHIR_SCENARIOS = [s for s in SCENARIOS if s["file"].endswith(".ndjson")]


def feed_token(s: Stack) -> str:
    run = subprocess.run([CLI, "tokens", "create", "--role", "feed", "--name", "LIS"],
                         env=s.env(), capture_output=True, text=True, timeout=60, check=True)
    token = run.stdout.strip()
    assert token and "\n" not in token
    return token


def observation(pid: str, n: int, hours: int, value: float, status: str = "final") -> dict:
    return {
        "resourceType": "Observation", "id": f"{pid}-{n}", "status": status,
        "identifier": [{"system": "urn:lab", "value": f"{pid}-{n}"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "2951-2"}]},
        "subject": {"identifier": {"system": "urn:mrn", "value": pid}},
        "effectiveDateTime": f"2026-09-{14 + hours // 24:02d}T{hours % 24:02d}:00:00+00:00",
        "valueQuantity": {"value": value, "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                          "code": "mmol/L"},
    }


def test_fhir_examples_and_a_transaction_bundle(pg_engine: Engine, pg_migrated: str,
                                                redis_url: str, tmp_path: Path) -> None:
    with stack(pg_migrated, redis_url, tmp_path) as s:
        base = s.api()
        s.worker(concurrency=2)
        headers = {"Authorization": f"Bearer {feed_token(s)}",
                   "Content-Type": "application/fhir+json"}
        posted = 0
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            assert http.post("/fhir/Observation", content="{}",
                             headers={"Authorization": ""}).status_code == 401
            for scenario in FHIR_SCENARIOS:
                for line in (EXAMPLES / scenario["file"]).read_text().splitlines():
                    resource = json.loads(line)
                    reply = http.post(f"/fhir/{resource['resourceType']}", content=line)
                    assert reply.status_code == 201, reply.text
                    posted += 1
            bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
                {"resource": observation("TX1", n, h, v),
                 "request": {"method": "POST", "url": "Observation"}}
                for n, (h, v) in enumerate([(8, 114), (16, 119), (24, 124)])]}
            reply = http.post("/fhir", content=json.dumps(bundle))
            assert reply.status_code == 200, reply.text
            body = reply.json()
            assert body["type"] == "transaction-response"
            assert [e["response"]["status"] for e in body["entry"]] == ["201 Created"] * 3
            posted += 1
            bad = observation("TX2", 0, 8, 140)
            bad["valueQuantity"]["unit"] = bad["valueQuantity"]["code"] = "mg/dL"
            reply = http.post("/fhir/Observation", content=json.dumps(bad))
            assert reply.status_code == 422
            assert reply.json()["resourceType"] == "OperationOutcome"
            assert "mg/dL" in json.dumps(reply.json())
        wait_for(lambda: all_processed(pg_engine, posted), 120, "the worker")
    found = alerts(pg_engine)
    assert {sc["patient_id"]: problems(sc, found) for sc in FHIR_SCENARIOS} == {
        sc["patient_id"]: [] for sc in FHIR_SCENARIOS}
    tx = [a for a in found if a["patient_id"] == "TX1" and a["rule"] == "OVERCORRECTION_24H"]
    assert tx and tx[0]["triggered_at"] == "2026-09-15T00:00:00+00:00"
    assert any("mg/dL" in r for r in reject_reasons(pg_engine))
    lines = sum(len((EXAMPLES / sc["file"]).read_text().splitlines()) for sc in FHIR_SCENARIOS)
    assert count(pg_engine, Result) == lines - 1 + 3  # less the Condition, plus the bundle
