"""Codes seen and not used: what counts, and that they never make a refused message usable."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.engine.model import Diagnosis, PatientRef, RiskSource
from monitor.engine.policy import built_in
from monitor.ingest.events import DiagnosisEvent, UnmappedCode
from monitor.services.intake.hl7 import read_hl7
from monitor.services.intake.pipeline import Pipeline
from monitor.services.intake.unmapped import unmapped_codes
from tests.unit.ingest.builders import UTC_TZ, obx, oru

MRN = PatientRef("CITYGEN", "MRN1")


def diagnosis(code: str) -> DiagnosisEvent:
    return DiagnosisEvent(MRN, Diagnosis(code, RiskSource.FHIR), "r")


def test_diagnoses_no_risk_factor_maps_are_counted_with_their_system() -> None:
    items = [diagnosis("I10"), diagnosis("K703"), diagnosis("SCT:38341003"),
             diagnosis("SCT:19943007"), diagnosis("alcohol-use-disorder"),
             UnmappedCode("http://loinc.org", "718-7", "r"),
             UnmappedCode("http://loinc.org", "718-7", "s")]

    assert unmapped_codes(items, built_in("default")) == {
        ("ICD-10", "I10"): 1, ("http://snomed.info/sct", "38341003"): 1,
        ("http://loinc.org", "718-7"): 2}


def test_an_hl7_message_whose_only_sodium_is_unusable_is_refused_whatever_else_it_has() -> None:
    text = oru(obx("abc"), obx("13.5", code="718-7^Hemoglobin^LN", unit="g/dL"))
    frame = read_hl7(text, "hl7:lis", Pipeline(built_in("default"), UTC_TZ), datetime.now(UTC))

    assert frame.code == "AE" and frame.note is not None and "no usable result" in frame.note


def test_a_medication_code_nothing_classifies_is_counted_a_mapped_or_worded_one_is_not() -> None:
    from monitor.engine.medication import Medication, MedicationKind
    from monitor.engine.treatment import RXNORM_SYSTEM
    from monitor.ingest.events import MedicationEvent

    def med(text: str, local: str | None = None, system: str | None = None,
            rxnorm: str | None = None) -> MedicationEvent:
        return MedicationEvent(MRN, Medication(f"o-{text}", MedicationKind.ORDER,
                                               datetime.now(UTC), text, "active", local,
                                               system, rxnorm), "r")

    items = [med("Drug X", "DX1", "urn:hosp:pharmacy"), med("Drug X", "DX1", "urn:hosp:pharmacy"),
             med("Drug Y", "DY2"),  # a local code sent without a system
             med("Drug Z", rxnorm="999999"),  # an RxNorm code the table does not hold
             med("Furosemide", rxnorm="4603"),  # a known ingredient
             med("NaCl 3 % 250 mL", "NA3"),  # classified by its words
             med("Mapped", "MAP1"),  # in the hospital's map
             med("Something unknown")]  # words only: no code to map
    assert unmapped_codes(items, built_in("default"), {"MAP1": "vaptan"}) == {
        ("urn:hosp:pharmacy", "DX1"): 2, ("local", "DY2"): 1, (RXNORM_SYSTEM, "999999"): 1}
