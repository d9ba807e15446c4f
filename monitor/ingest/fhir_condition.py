"""FHIR R4 Condition -> DiagnosisEvent for each of its ICD-10 and SNOMED CT codings."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from fhir.resources.R4B.condition import Condition

from monitor.engine.model import Diagnosis, RiskSource
from monitor.ingest.checks import Unusable
from monitor.ingest.events import DiagnosisEvent, Item, Reject, UnmappedCode
from monitor.ingest.fhir_common import PatientIndex, Resource, codings, validate
from monitor.ingest.terminology import DEFAULT_TERMS, Terminology, diagnosis_codes
from monitor.ingest.times import parse_iso

# condition-clinical: recurrence and relapse are kinds of active in its hierarchy. A
# Condition without a clinical status is not active (a chronic one still holds its span).
_ACTIVE = frozenset({"active", "recurrence", "relapse"})
# condition-ver-status: what these say is that the patient never had it.
_VOID = {"refuted": "refuted (verificationStatus)",
         "entered-in-error": "entered in error (verificationStatus)"}
_TIMES = ("recordedDate", "onsetDateTime", "onsetPeriod", "abatementDateTime", "abatementPeriod")


def condition_items(
    resource: Resource, position: str, patients: PatientIndex, tz: ZoneInfo,
    terms: Terminology = DEFAULT_TERMS,
) -> list[Item]:
    """One event per distinct diagnosis code (monitor.ingest.terminology); codes of other
    systems are not ours to judge, only counted. The event states the Condition as it stands
    now (status, category, onset, abatement); the engine judges the span over which it
    raises the patient's risk."""
    codes, ignored = diagnosis_codes(codings(resource.get("code")), terms)
    unmapped: list[Item] = [UnmappedCode(system, code, position) for system, code in ignored]
    if not codes:
        return unmapped  # read before the model validation, which costs more than the rest
    try:
        # Times are left to parse_iso, which reads an offset-less time in `tz`.
        validate(Condition, {k: v for k, v in resource.items() if k not in _TIMES}, "Condition")
        patient = patients.subject(resource)
        recorded = _time(resource, tz, "recordedDate")
        onset = _time(resource, tz, "onsetDateTime") or _period(resource, tz, "onsetPeriod",
                                                                 ("start",))
        # The later end of an abatement period: the risk holds until the condition is gone.
        abated = _time(resource, tz, "abatementDateTime") or _period(
            resource, tz, "abatementPeriod", ("end", "start"))
    except Unusable as exc:
        return [Reject(position, str(exc), json.dumps(resource))]
    clinical = {code for code, _ in codings(resource.get("clinicalStatus"))}
    verification = [code for code, _ in codings(resource.get("verificationStatus"))]
    voided = next((_VOID[v] for v in verification if v in _VOID), None)
    encounter = any(code == "encounter-diagnosis" for category in resource.get("category") or []
                    for code, _ in codings(category))
    return unmapped + [
        DiagnosisEvent(patient, Diagnosis(code, RiskSource.FHIR, bool(clinical & _ACTIVE),
                                          onset, recorded, abated, encounter, voided),
                       position)
        for code in codes
    ]


def _time(resource: Resource, tz: ZoneInfo, name: str) -> datetime | None:
    text = resource.get(name)
    return parse_iso(str(text), tz, field=name) if text else None


def _period(resource: Resource, tz: ZoneInfo, name: str,
            ends: tuple[str, ...]) -> datetime | None:
    period = resource.get(name)
    if not isinstance(period, dict):
        return None
    for end in ends:
        if period.get(end):
            return parse_iso(str(period[end]), tz, field=f"{name}.{end}")
    return None
