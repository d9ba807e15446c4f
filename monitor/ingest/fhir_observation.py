"""FHIR R4 Observation -> ResultEvent for sodium, potassium, glucose and the urine analytes
(a urine output over its effectivePeriod: ingest.intervals)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from fhir.resources.R4B.observation import Observation

from monitor.engine.model import Analyte, PatientRef, ResultStatus
from monitor.ingest.checks import Unusable, measured_value
from monitor.ingest.codes import classify, resolve_loinc
from monitor.ingest.events import Item, Reject, ResultEvent, UnmappedCode
from monitor.ingest.fhir_common import (
    EFFECTIVE,
    PatientIndex,
    Resource,
    codings,
    effective_at,
    effective_period,
    validate,
)
from monitor.ingest.fhir_social import alcohol_code, alcohol_items
from monitor.ingest.fhir_specimen import SpecimenIndex, contaminated_words
from monitor.ingest.flags import DEFAULT_SUSPECT_COMMENTS, flag_text, suspect_words
from monitor.ingest.intervals import output_interval, start_interval
from monitor.ingest.terminology import DEFAULT_TERMS, Terminology

OBSERVATION_STATUS = {
    "final": ResultStatus.FINAL,
    "amended": ResultStatus.CORRECTED,
    "corrected": ResultStatus.CORRECTED,
    "preliminary": ResultStatus.PRELIMINARY,
    "entered-in-error": ResultStatus.REMOVED,
    "cancelled": ResultStatus.REMOVED,
}


def observation_items(
    resource: Resource,
    position: str,
    patients: PatientIndex,
    tz: ZoneInfo,
    local_codes: Mapping[str, str],
    specimens: SpecimenIndex | None = None,
    suspect_comments: tuple[str, ...] = DEFAULT_SUSPECT_COMMENTS,
    terms: Terminology = DEFAULT_TERMS,
) -> list[Item]:
    """A result for the analytes we follow, a risk factor for an alcohol social history,
    and for any other code an UnmappedCode per coding (counted, never rejected)."""
    alcohol = alcohol_code(resource)
    if alcohol is not None:
        return alcohol_items(resource, alcohol, position, patients, tz, terms)
    try:
        event = _result(resource, position, patients, tz, local_codes)
    except Unusable as exc:
        return [Reject(position, str(exc), json.dumps(resource))]
    if event is None:
        return [UnmappedCode(system, code, position)
                for code, system in dict.fromkeys(codings(resource.get("code"))) if code]
    event.flag = _flag(resource, specimens or SpecimenIndex(), suspect_comments)
    return [event]


def _flag(resource: Resource, specimens: SpecimenIndex, suspect: tuple[str, ...]
          ) -> str | None:
    """The lab's words when the referenced Specimen's condition is CON (v2-0493) or a note
    on the Observation matches the suspect comments."""
    notes = [str(n.get("text") or "") for n in resource.get("note") or [] if isinstance(n, dict)]
    return flag_text(contaminated_words(specimens.of(resource)) + suspect_words(notes, suspect))


def _result(
    resource: Resource,
    position: str,
    patients: PatientIndex,
    tz: ZoneInfo,
    local_codes: Mapping[str, str],
) -> ResultEvent | None:
    loinc = resolve_loinc(codings(resource.get("code")), local_codes)
    kind = classify(loinc)
    if kind is None:
        # Not an analyte we follow (a full blood count, vital signs: most of an EHR export).
        # The code alone decides it (the specimen only chooses the method), so it is skipped
        # before the model validation, which costs most of the parsing.
        return None
    validate(Observation, {k: v for k, v in resource.items() if k not in EFFECTIVE}, "Observation")
    specimen = _specimen(resource)
    analyte, method = classify(loinc, specimen) or kind
    status = OBSERVATION_STATUS.get(resource["status"])
    if status is None:
        raise Unusable(f"status '{resource['status']}' is not a usable result")
    patient = patients.subject(resource)
    collected_at = effective_at(resource, tz)
    started_at = None
    if analyte is Analyte.URINE_OUTPUT:  # the volume's time is the end of its interval
        period = effective_period(resource, tz)
        if period is not None:
            started_at, collected_at = output_interval(loinc, *period)
        elif _starts_only(resource):  # effectivePeriod.start alone: the code's hours on
            started_at, collected_at = start_interval(loinc, collected_at)
        else:
            started_at, collected_at = output_interval(loinc, None, collected_at)
    value_raw, unit = _value(resource)
    return ResultEvent(
        patient=patient,
        result_key=_result_key(resource, patient, collected_at, analyte),
        analyte=analyte,
        code=loinc,
        method=method,
        specimen=specimen,
        value_raw=value_raw,
        unit_raw=unit,
        value_mmol_l=measured_value(analyte, value_raw, unit, status),
        collected_at=collected_at,
        status=status,
        position=position,
        person=patients.person(patient),
        started_at=started_at,
    )


def _starts_only(resource: Resource) -> bool:
    period = resource.get("effectivePeriod")
    return not resource.get("effectiveDateTime") and not resource.get("effectiveInstant") \
        and isinstance(period, dict) and bool(period.get("start")) and not period.get("end")


def _value(resource: Resource) -> tuple[str, str]:
    """(value as text, unit); a Quantity with a comparator is a censored value."""
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, dict):
        number = "" if quantity.get("value") is None else str(quantity["value"])
        if quantity.get("comparator"):
            number = f"{quantity['comparator']}{number}"
        return number, str(quantity.get("code") or quantity.get("unit") or "")
    if isinstance(resource.get("valueString"), str):
        return resource["valueString"], ""
    return "", ""


def _specimen(resource: Resource) -> str | None:
    """The specimen reference's display, else the type of a contained Specimen."""
    reference = resource.get("specimen")
    if not isinstance(reference, dict):
        return None
    if reference.get("display"):
        return str(reference["display"])
    local_id = str(reference.get("reference") or "").removeprefix("#")
    for inner in resource.get("contained") or []:
        if inner.get("resourceType") == "Specimen" and inner.get("id") == local_id:
            kind = inner.get("type") or {}
            names = [kind.get("text")] + [c.get("display") for c in kind.get("coding") or []]
            return next((str(name) for name in names if name), None)
    return None


def _result_key(
    resource: Resource, patient: PatientRef, collected_at: datetime, analyte: Analyte
) -> str:
    """identifier (system|value), else the logical id, else what the CSV feed uses."""
    for identifier in resource.get("identifier") or []:
        if identifier.get("value"):
            return f"{identifier.get('system') or ''}|{identifier['value']}"
    if resource.get("id"):
        return str(resource["id"])
    return f"{patient}|{collected_at.isoformat()}|{analyte}"
