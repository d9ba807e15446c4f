"""FHIR Bulk Data manifests and cross-file patient identity at the parser (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.engine.model import PatientRef
from monitor.ingest import codec
from monitor.ingest.bulk import NotAManifest, is_manifest, manifest_files
from monitor.ingest.events import PatientLinkEvent, ResultEvent
from monitor.ingest.fhir_feed import index_patients, parse_fhir
from tests import fhir_cohort as cohort

UTC = ZoneInfo("UTC")
MRN = PatientRef(cohort.MRN_SYSTEM, "MRN-1001")


def test_a_manifest_lists_its_files_by_name_patients_first(tmp_path: Path) -> None:
    text = cohort.bulk(tmp_path).read_text()
    assert is_manifest(text)
    assert manifest_files(text) == [("Patient", "Patient.ndjson"),
                                    ("Observation", "Observation.ndjson"),
                                    ("Condition", "Condition.ndjson"),
                                    ("Encounter", "Encounter.ndjson")]
    assert not is_manifest(json.dumps(cohort.patient("pt-1")))
    with pytest.raises(NotAManifest, match="url"):
        manifest_files('{"output": [{"type": "Patient"}]}')


def test_observations_resolve_through_patients_of_another_file() -> None:
    kinds = cohort.by_type()
    patients = "".join(json.dumps(r) + "\n" for r in kinds["Patient"])
    observations = "".join(json.dumps(r) + "\n" for r in kinds["Observation"])
    alone = [e for e in parse_fhir(observations, source="o", tz=UTC)
             if isinstance(e, ResultEvent)]
    assert {e.patient for e in alone} == {PatientRef("", p) for p in cohort.COHORT}
    index = index_patients([observations, patients])
    known = [e for e in parse_fhir(observations, source="o", tz=UTC, patients=index)
             if isinstance(e, ResultEvent)]
    assert MRN in {e.patient for e in known}
    assert all(e.patient.authority == cohort.MRN_SYSTEM for e in known)
    assert known[0].person is not None and known[0].person.name == "TEST1, Ana"


def test_a_patient_resource_is_a_link_that_survives_the_inbox() -> None:
    [link] = parse_fhir(json.dumps(cohort.patient("pt-1")), source="p", tz=UTC)
    assert isinstance(link, PatientLinkEvent)
    assert (link.reference, link.patient) == (PatientRef("", "pt-1"), MRN)
    assert codec.load(codec.dump([link])) == [link]


def test_authority_aliases_are_checked_when_the_service_starts() -> None:
    from pydantic import ValidationError

    from monitor.config import Settings
    from monitor.ingest.authorities import canonical_patients, parse_aliases

    assert parse_aliases(" CITYGEN = urn:oid:1.2.3 , LAB=urn:oid:1.2.3") == {
        "CITYGEN": "urn:oid:1.2.3", "LAB": "urn:oid:1.2.3"}
    with pytest.raises(ValidationError, match="expected alias=canonical"):
        Settings(patient_authorities="CITYGEN")
    [link] = parse_fhir(json.dumps(cohort.patient("pt-1")), source="p", tz=UTC)
    [named] = canonical_patients([link], {cohort.MRN_SYSTEM: "MRN"})
    assert isinstance(named, PatientLinkEvent) and named.patient == PatientRef("MRN", "MRN-1001")
