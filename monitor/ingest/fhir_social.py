"""FHIR social-history Observations for alcohol -> the alcohol-use-disorder risk factor.

LOINC 11331-6 (History of alcohol use) counts when its coded answer is one of the policy's
`social_history.alcohol_answers`; LOINC 74013-4 (Alcoholic drinks per day) when its
valueQuantity is above `alcohol_drinks_per_day_above`. The diagnosis is the factor's name
(codes.RISK_NAMES), recorded at the observation's effective time (docs/clinical-rules.md).
"""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from fhir.resources.R4B.observation import Observation

from monitor.engine.model import Diagnosis, RiskSource
from monitor.ingest.checks import Unusable
from monitor.ingest.codes import is_loinc_system
from monitor.ingest.events import DiagnosisEvent, Item, Reject
from monitor.ingest.fhir_common import (
    EFFECTIVE,
    PatientIndex,
    Resource,
    codings,
    effective_at,
    validate,
)
from monitor.ingest.terminology import Terminology, answer_counts

HISTORY_OF_ALCOHOL_USE = "11331-6"
DRINKS_PER_DAY = "74013-4"
FACTOR = "alcohol-use-disorder"
# A statement removed at the source never counted (as a refuted Condition).
_WITHDRAWN = {"entered-in-error": "entered in error (Observation.status)",
              "cancelled": "cancelled (Observation.status)"}


def alcohol_code(resource: Resource) -> str | None:
    """The alcohol social-history LOINC code of this Observation, if it is one."""
    for code, system in codings(resource.get("code")):
        if code in (HISTORY_OF_ALCOHOL_USE, DRINKS_PER_DAY) and (
                not system or is_loinc_system(system)):
            return code
    return None


def alcohol_items(resource: Resource, code: str, position: str, patients: PatientIndex,
                  tz: ZoneInfo, terms: Terminology) -> list[Item]:
    """The risk factor when the answer counts; nothing when it does not."""
    try:
        validate(Observation, {k: v for k, v in resource.items() if k not in EFFECTIVE},
                 "Observation")
        if code == HISTORY_OF_ALCOHOL_USE:
            counts = answer_counts(codings(resource.get("valueCodeableConcept")), terms)
        else:
            counts = _drinks_above(resource.get("valueQuantity"), terms)
        if not counts:
            return []
        patient = patients.subject(resource)
        at = effective_at(resource, tz)
    except Unusable as exc:
        return [Reject(position, str(exc), json.dumps(resource))]
    # Stated at the effective time, with no onset: a chronic factor then holds from before
    # any result, as a Condition without onset does (engine.risk.held_span).
    voided = _WITHDRAWN.get(str(resource.get("status")))
    return [DiagnosisEvent(patient, Diagnosis(FACTOR, RiskSource.FHIR, recorded=at,
                                              voided=voided), position)]


def _drinks_above(quantity: object, terms: Terminology) -> bool:
    limit = terms.alcohol_drinks_per_day_above
    if limit is None or not isinstance(quantity, dict) or quantity.get("comparator") in (
            "<", "<="):
        return False
    value = quantity.get("value")
    return isinstance(value, int | float) and value > limit
