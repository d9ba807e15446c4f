"""FHIR R4 Condition -> DiagnosisEvent for each of its ICD-10 codings."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from fhir.resources.R4B.condition import Condition

from monitor.engine.model import Diagnosis, RiskSource
from monitor.ingest.checks import Unusable
from monitor.ingest.codes import is_icd10_system, normalise_icd10
from monitor.ingest.events import DiagnosisEvent, Item, Reject
from monitor.ingest.fhir_common import PatientIndex, Resource, codings, validate
from monitor.ingest.times import parse_iso

# condition-clinical: recurrence and relapse are kinds of active in its hierarchy. A
# Condition without a clinical status does not count as active.
_ACTIVE = frozenset({"active", "recurrence", "relapse"})
_NOT_TRUE = frozenset({"refuted", "entered-in-error"})  # condition-ver-status
_TIMES = ("recordedDate", "onsetDateTime", "onsetPeriod", "abatementDateTime", "abatementPeriod")


def condition_items(
    resource: Resource, position: str, patients: PatientIndex, tz: ZoneInfo
) -> list[Item]:
    """One event per distinct ICD-10 code; codes of other systems are not ours to judge."""
    codes = dict.fromkeys(
        normalise_icd10(code)
        for code, system in codings(resource.get("code"))
        if code and is_icd10_system(system)
    )
    if not codes:
        return []  # read before the model validation, which costs more than the rest
    try:
        # Times are left to parse_iso, which reads an offset-less time in `tz`.
        validate(Condition, {k: v for k, v in resource.items() if k not in _TIMES}, "Condition")
        patient = patients.subject(resource)
        recorded = resource.get("recordedDate")
        recorded_at = parse_iso(str(recorded), tz, field="recordedDate") if recorded else None
    except Unusable as exc:
        return [Reject(position, str(exc), json.dumps(resource))]
    clinical = {code for code, _ in codings(resource.get("clinicalStatus"))}
    verification = {code for code, _ in codings(resource.get("verificationStatus"))}
    active = bool(clinical & _ACTIVE) and not verification & _NOT_TRUE
    return [
        DiagnosisEvent(patient, Diagnosis(code, RiskSource.FHIR, active), position, recorded_at)
        for code in codes
    ]
