"""FHIR R4 MedicationRequest and MedicationAdministration -> medication events.

medicationCodeableConcept: an RxNorm coding (http://www.nlm.nih.gov/research/umls/rxnorm)
is kept as such, the first other coding as the local code, the text (or a display) as the
words. A medicationReference alone carries no words: the event is stored as unknown. The
time: MedicationRequest authoredOn, MedicationAdministration effectiveDateTime or
effectivePeriod.start; dosage route and dose as sent.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitor.engine.medication import Medication, MedicationKind
from monitor.engine.treatment import RXNORM_SYSTEM
from monitor.ingest.checks import Unusable
from monitor.ingest.events import Item, MedicationEvent, Reject
from monitor.ingest.fhir_common import PatientIndex, Resource, effective_at
from monitor.ingest.terminology import system_key
from monitor.ingest.times import parse_iso

MEDICATION_TYPES = ("MedicationRequest", "MedicationAdministration")
_RXNORM = system_key(RXNORM_SYSTEM)


def medication_items(resource: Resource, position: str, patients: PatientIndex,
                     tz: ZoneInfo) -> list[Item]:
    """One event for the resource, or its Reject."""
    kind = resource["resourceType"]
    try:
        patient = patients.subject(resource)
        if kind == "MedicationRequest":
            if not resource.get("authoredOn"):
                raise Unusable("MedicationRequest without authoredOn")
            at = parse_iso(str(resource["authoredOn"]), tz, field="authoredOn")
            dosages = resource.get("dosageInstruction")
            dosage = dosages[0] if isinstance(dosages, list) and dosages else None
        else:
            at = effective_at(resource, tz)
            dosage = resource.get("dosage")
        status = str(resource.get("status") or "unknown").lower()
    except Unusable as exc:
        return [Reject(position, str(exc), json.dumps(resource))]
    return [MedicationEvent(patient, _medication(resource, dosage, at, status, position),
                            position)]


def draft_medication(resource: Resource, now: datetime, tz: ZoneInfo) -> Medication:
    """A draft MedicationRequest an EHR is about to sign (CDS Hooks order-sign), as the
    order it will be once signed: active, from authoredOn or else `now`."""
    at = now
    if resource.get("authoredOn"):
        try:
            at = parse_iso(str(resource["authoredOn"]), tz, field="authoredOn")
        except Unusable:
            at = now
    dosages = resource.get("dosageInstruction")
    dosage = dosages[0] if isinstance(dosages, list) and dosages else None
    return _medication(resource, dosage, at, "active", "draft")


def _medication(resource: Resource, dosage: Any, at: datetime, status: str,
                position: str) -> Medication:
    kind = resource["resourceType"]
    local, system, rxnorm, text = _coded(resource.get("medicationCodeableConcept"))
    if not text:
        ref = resource.get("medicationReference")
        text = str(ref.get("display") or ref.get("reference") or "") \
            if isinstance(ref, dict) else ""
    amount, unit = _dose(dosage, kind)
    route = _concept_words(dosage.get("route")) if isinstance(dosage, dict) else None
    key = f"{kind}/{resource.get('id') or position}"
    return Medication(key, MedicationKind.ORDER if kind == "MedicationRequest"
                      else MedicationKind.ADMINISTRATION, at, text, status, local, system,
                      rxnorm, amount, unit, route)


def _coded(concept: Any) -> tuple[str | None, str | None, str | None, str]:
    if not isinstance(concept, dict):
        return None, None, None, ""
    local = system = rxnorm = None
    display = ""
    for c in _listed(concept.get("coding")):
        if not isinstance(c, dict) or not c.get("code"):
            continue
        code, where = str(c["code"]), str(c.get("system") or "")
        if system_key(where) == _RXNORM:
            rxnorm = rxnorm or code
        elif local is None:
            local, system = code, where or None
        display = display or str(c.get("display") or "")
    return local, system, rxnorm, str(concept.get("text") or display or local or rxnorm or "")


def _concept_words(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    codes = [c for c in _listed(concept.get("coding")) if isinstance(c, dict)]
    words = concept.get("text") or next((c.get("display") or c.get("code") for c in codes
                                        if c.get("display") or c.get("code")), None)
    return None if words is None else str(words)


def _listed(value: Any) -> list[Any]:
    """A repeated element as a list: an unvalidated resource (a draft order) may hold
    anything there."""
    return value if isinstance(value, list) else []


def _dose(dosage: Any, kind: str) -> tuple[str | None, str | None]:
    """MedicationAdministration dosage.dose; MedicationRequest doseAndRate[0].doseQuantity."""
    if not isinstance(dosage, dict):
        return None, None
    quantity = dosage.get("dose")
    if kind == "MedicationRequest":
        rates = dosage.get("doseAndRate")
        first = rates[0] if isinstance(rates, list) and rates else {}
        quantity = first.get("doseQuantity") if isinstance(first, dict) else None
    if not isinstance(quantity, dict) or quantity.get("value") is None:
        return None, None
    unit = quantity.get("unit") or quantity.get("code")
    return str(quantity["value"]), None if unit is None else str(unit)
