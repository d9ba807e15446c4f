"""FHIR patient identity whatever the layout (issue 18 item 1): the same cohort as one
NDJSON (Patients last), a Bundle, a Bulk Data folder or its manifest, split across
processes, and imported in small chunks on PostgreSQL, gives the same patients and alerts,
keyed by MRN; live, a Patient that arrives after its Observations merges them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from monitor.config import Settings
from monitor.engine.policy import load_policy
from monitor.ingest.authorities import parse_aliases
from monitor.runtime import Runtime
from monitor.runtime.drain import run_inbox
from monitor.services.access.tokens import create_token
from monitor.services.intake.hl7 import receive_hl7
from monitor.services.replay import run
from monitor.storage.tables import (
    FhirPatientLink,
    InboxItem,
    Patient,
    RejectRow,
    Result,
)
from monitor.web.app import create_app
from tests import fhir_cohort as cohort
from tests.hl7_builders import oru
from tests.integration.helpers import alerts
from tests.integration.test_cli_engineer import cli

MRNS = {(cohort.MRN_SYSTEM, mrn) for mrn, _, _ in cohort.COHORT.values()}
UTC_ZONE = ZoneInfo("UTC")


def summary(found: list[dict[str, Any]]) -> set[tuple[str, str, str, str, str]]:
    return {(a["patient_authority"], a["patient_id"], a["rule"], a["triggered_at"], a["state"])
            for a in found}


def replayed(inputs: list[tuple[str, str]], processes: int = 1) -> set[tuple[str, ...]]:
    out = run.replay(inputs, "auto", UTC_ZONE, load_policy("default"), processes=processes)
    assert out.rejects == []
    return summary(out.alerts)


@pytest.fixture(scope="module")
def expected() -> set[tuple[str, ...]]:
    """The cohort with its Patients first in one file: the layout that always worked."""
    found = replayed([("cohort.ndjson", cohort.ndjson(patients_last=False))])
    assert {(a, p) for a, p, *_ in found} == MRNS  # every patient, by MRN
    rules = {(p, rule) for _, p, rule, _, state in found if state == "active"}
    assert {("MRN-1001", "OVERCORRECTION_24H"), ("MRN-1002", "OVERCORRECTION_24H"),
            ("MRN-1003", "SEVERE_HYPONATREMIA")} <= rules  # pt-2's only with the cirrhosis
    return found


def test_replay_gives_the_same_patients_and_alerts_in_every_layout(
        expected: set[tuple[str, ...]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    assert replayed([("cohort.ndjson", cohort.ndjson())]) == expected
    assert replayed([("cohort.json", cohort.bundle())]) == expected
    manifest = cohort.bulk(tmp_path / "export")
    files = [(p.name, p.read_text()) for p in sorted(manifest.parent.glob("*.ndjson"))]
    assert replayed(files) == expected  # one file per type, Patient.ndjson not first
    monkeypatch.setattr(run, "PARALLEL_MIN_CHARS", 0)  # split by patient across processes
    assert replayed(files, processes=2) == expected


@pytest.mark.parametrize("which", ["folder", "manifest"])
def test_replay_reads_a_bulk_export_by_its_folder_or_manifest(
        expected: set[tuple[str, ...]], tmp_path: Path, which: str) -> None:
    manifest = cohort.bulk(tmp_path / "export")
    (manifest.parent / "unrelated.txt").write_text("not part of the export\n")
    target = manifest.parent if which == "folder" else manifest
    done = cli("sqlite://", "replay", str(target))
    assert done.returncode == 0, done.stderr
    assert summary([json.loads(x) for x in done.stdout.splitlines()]) == expected
    assert "0 rejected" in done.stderr  # the manifest is not taken for a FHIR resource


def test_import_in_small_chunks_gives_the_same_patients_and_alerts(
        expected: set[tuple[str, ...]], pg_engine: Engine, pg_migrated: str, tmp_path: Path
        ) -> None:
    feed = tmp_path / "cohort.ndjson"
    feed.write_text(cohort.ndjson())  # Patients last: in payloads after their results
    done = cli(pg_migrated, "import", "--lines-per-payload", "2", str(feed))
    assert done.returncode == 0, done.stderr
    assert summary(alerts(pg_engine)) == expected
    with pg_engine.connect() as c:
        live = {(p.authority, p.identifier) for p in c.execute(
            select(Patient).where(Patient.merged_into_id.is_(None)))}
        assert live == MRNS  # the bare ids were merged into the MRNs, none left apart
        assert c.execute(select(Result).join(Patient, Patient.id == Result.patient_id)
                         .where(Patient.merged_into_id.is_not(None))).first() is None
        assert {(link.fhir_id, link.identifier) for link in c.execute(
            select(FhirPatientLink))} == {(pid, mrn) for pid, (mrn, _, _)
                                          in cohort.COHORT.items()}


def test_a_bulk_export_imports_by_its_manifest(
        expected: set[tuple[str, ...]], pg_engine: Engine, pg_migrated: str, tmp_path: Path
        ) -> None:
    manifest = cohort.bulk(tmp_path / "export")
    done = cli(pg_migrated, "import", str(manifest))
    assert done.returncode == 0, done.stderr
    assert summary(alerts(pg_engine)) == expected


def fhir_client(rt: Runtime) -> TestClient:
    with rt.uow() as uow:
        token = create_token(uow, "ehr", "feed", datetime.now(UTC))
    return TestClient(create_app(rt), headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"})


def post(rt: Runtime, http: TestClient, path: str, resource: dict[str, Any]) -> int:
    """POST a resource and let the worker process what was stored; the status code."""
    reply = http.post(path, content=json.dumps(resource))
    rt.dispatcher.drain()  # type: ignore[attr-defined]  # the embedded, in-process one
    with rt.uow() as uow:
        assert not uow.session.scalar(select(InboxItem.id).where(InboxItem.state != "done"))
    return reply.status_code


def test_live_a_patient_after_its_observations_merges_them_and_later_ones_resolve(
        rt: Runtime, pg_engine: Engine) -> None:
    http = fhir_client(rt)
    first, *rest = cohort.observations("pt-1")[::2]  # the sodium values
    assert post(rt, http, "/fhir/Observation", first) == 201
    with pg_engine.connect() as c:
        assert c.execute(select(Patient.authority, Patient.identifier)).all() == [("", "pt-1")]

    assert post(rt, http, "/fhir/Patient", cohort.patient("pt-1")) == 201
    for obs in rest:
        assert post(rt, http, "/fhir/Observation", obs) == 201
    with pg_engine.connect() as c:
        mrn = c.execute(select(Patient).where(Patient.identifier == "MRN-1001")).one()
        bare = c.execute(select(Patient).where(Patient.identifier == "pt-1")).one()
        assert bare.merged_into_id == mrn.id
        assert mrn.display_name == "TEST1, Ana"  # the Patient's name reached the pages
        assert c.scalar(select(Result.id).where(Result.patient_id != mrn.id)) is None
        # Received after the Patient: resolved at intake (so the inbox orders it with the
        # MRN's other rows), as stored with the payload.
        last = c.scalar(select(InboxItem.items).order_by(InboxItem.id.desc()).limit(1))
        assert [r[1:3] for r in last["items"]] == [[cohort.MRN_SYSTEM, "MRN-1001"]]
    found = [a for a in alerts(pg_engine) if a["state"] == "active"]
    assert {(a["patient_id"], a["rule"]) for a in found} >= {("MRN-1001", "OVERCORRECTION_24H")}
    assert all(a["patient_id"] == "MRN-1001" for a in found)


def test_live_a_patient_id_naming_a_second_identifier_is_refused(
        rt: Runtime, pg_engine: Engine) -> None:
    http = fhir_client(rt)
    assert post(rt, http, "/fhir/Patient", cohort.patient("pt-1")) == 201
    other = cohort.patient("pt-1")
    other["identifier"][1]["value"] = "MRN-9999"
    reply = http.post("/fhir/Patient", content=json.dumps(other))
    assert reply.status_code == 422
    text = json.dumps(reply.json())
    assert "already patient" in text and "MRN-1001" in text and "MRN-9999" in text
    with pg_engine.connect() as c:
        assert [link.identifier for link in c.execute(select(FhirPatientLink))] == ["MRN-1001"]
        assert any("MRN-9999" in r.reason for r in c.execute(select(RejectRow)))
        assert c.scalar(select(Patient.id).where(Patient.identifier == "MRN-9999")) is None


# The same MRN from the lab over HL7 (CX.4 namespace CITYGEN) and from the EHR over FHIR
# (its identifier system): one patient once the hospital names the alias.
ALIAS = f"CITYGEN={cohort.MRN_SYSTEM}"


def hl7_first_sodium() -> str:
    when, value = cohort.COHORT["pt-1"][1][0]
    return oru("MRN-1001", "HL7-1", datetime.fromisoformat(when).astimezone(UTC), value)


def fhir_rest() -> str:
    """pt-1's later sodium values and its Patient, as the EHR's NDJSON."""
    later = cohort.observations("pt-1")[2::2]
    return "".join(json.dumps(r) + "\n" for r in [*later, cohort.patient("pt-1")])


def test_replay_joins_hl7_and_fhir_under_an_authority_alias() -> None:
    inputs = [("lab.hl7", hl7_first_sodium()), ("ehr.ndjson", fhir_rest())]
    apart = run.replay(inputs, "auto", UTC_ZONE, load_policy("default"))
    assert {a["patient_authority"] for a in apart.alerts if a["patient_id"] == "MRN-1001"} \
        == {"CITYGEN", cohort.MRN_SYSTEM}  # without the alias: two patients
    joined = run.replay(inputs, "auto", UTC_ZONE, load_policy("default"),
                        authorities=parse_aliases(ALIAS))
    mine = [a for a in joined.alerts if a["patient_id"] == "MRN-1001"]
    assert {a["patient_authority"] for a in mine} == {cohort.MRN_SYSTEM}
    assert "OVERCORRECTION_24H" in {a["rule"] for a in mine if a["state"] == "active"}


def test_live_joins_hl7_and_fhir_under_an_authority_alias(pg_engine: Engine,
                                                          pg_migrated: str) -> None:
    rt = Runtime(Settings(database_url=pg_migrated, broker_url="", patient_authorities=ALIAS))
    try:
        reply = receive_hl7(rt.uow(), hl7_first_sodium(), "hl7:lis", rt.pipeline,
                            datetime.now(UTC))
        assert reply.inbox_id is not None and run_inbox(rt, reply.inbox_id) == "processed"
        http = fhir_client(rt)
        for line in fhir_rest().splitlines():
            resource = json.loads(line)
            assert post(rt, http, f"/fhir/{resource['resourceType']}", resource) == 201
    finally:
        rt.engine.dispose()
    with pg_engine.connect() as c:
        assert c.execute(select(Patient.authority, Patient.identifier).where(
            Patient.merged_into_id.is_(None))).all() == [(cohort.MRN_SYSTEM, "MRN-1001")]
        assert c.scalar(select(func.count()).select_from(Result)) == 4  # HL7 1 + FHIR 3
    assert "OVERCORRECTION_24H" in {a["rule"] for a in alerts(pg_engine)
                                    if a["state"] == "active"}
