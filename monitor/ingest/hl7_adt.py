"""ADT -> patient movements (A01-A08), diagnoses (DG1) and merges (A40)."""

from __future__ import annotations

from datetime import datetime

from monitor.engine.model import Diagnosis, PatientRef, RiskSource
from monitor.ingest import hl7_fields as f
from monitor.ingest.checks import Unusable
from monitor.ingest.events import (
    DiagnosisEvent,
    Item,
    MergeEvent,
    PatientEvent,
    Reject,
    UnmappedCode,
)
from monitor.ingest.hl7_context import MessageContext
from monitor.ingest.terminology import DEFAULT_TERMS, diagnosis_codes
from monitor.ingest.times import parse_hl7_ts

# admit, transfer, discharge, register, update; merge patient information
ADT_EVENTS = ("A01", "A02", "A03", "A04", "A08", "A40")


def adt_items(message: f.Message, ctx: MessageContext, trigger: str) -> list[Item]:
    if trigger == "A40":
        return _merges(message, ctx)
    pid_index = next((i for i, seg in enumerate(message) if f.segment_id(seg) == "PID"), None)
    if pid_index is None:
        raise Unusable("no PID segment")
    patient = _patient(message[pid_index])
    pv1 = next((seg for seg in message if f.segment_id(seg) == "PV1"), None)
    ward, room, bed = ((f.value(pv1, 3, c) for c in (1, 2, 3)) if pv1 is not None
                       else ("", "", ""))
    items: list[Item] = [
        PatientEvent(
            patient=patient,
            event_type=trigger,
            ward=ward or None,
            bed=bed or None,
            discharged=trigger == "A03",
            position=ctx.position(pid_index),
            occurred_at=_event_time(message, ctx),
            test=ctx.test,
            room=room or None,
            person=f.person_from_pid(message[pid_index]),
        )
    ]
    for index, seg in enumerate(message):
        if f.segment_id(seg) == "DG1":
            items.extend(_diagnosis(seg, index, patient, ctx))
    return items


def _patient(pid: f.Segment) -> PatientRef:
    patient = f.patient_from_cx(pid, 3)
    if patient is None:
        raise Unusable("PID-3 holds no patient identifier")
    return patient


def _event_time(message: f.Message, ctx: MessageContext) -> datetime | None:
    """EVN-6 (when the event happened), else EVN-2 (when it was recorded)."""
    for evn in (seg for seg in message if f.segment_id(seg) == "EVN"):
        for label, text in (("EVN-6", f.value(evn, 6, 1)), ("EVN-2", f.value(evn, 2, 1))):
            if text:
                return parse_hl7_ts(text, ctx.tz, field=label)
    return None


def _diagnosis(seg: f.Segment, index: int, patient: PatientRef, ctx: MessageContext) -> list[Item]:
    """DG1-3 (and its alternate coding) when it is ICD-10 or SNOMED CT (the first such);
    a coding in another system is not ours, and counted as a code not used."""
    codings = [(f.value(seg, 3, 1), f.value(seg, 3, 3)), (f.value(seg, 3, 4), f.value(seg, 3, 6))]
    codes, ignored = diagnosis_codes(codings, DEFAULT_TERMS)
    if not codes:
        return [UnmappedCode(system, code, ctx.position(index)) for system, code in ignored]
    try:
        recorded = f.value(seg, 5, 1)
        recorded_at = parse_hl7_ts(recorded, ctx.tz, field="DG1-5") if recorded else None
    except Unusable as exc:
        return [Reject(ctx.position(index), str(exc), str(seg))]
    # DG1-21 (v2.5 action code) D: the sender deletes this diagnosis, as entered in error
    # is in FHIR: it never counted. DG1 has no abatement: a diagnosis it sends is active.
    deleted = f.value(seg, 21) == "D"
    diagnosis = Diagnosis(codes[0], RiskSource.ADT, recorded=recorded_at,
                          voided="deleted by the sender (DG1-21 D)" if deleted else None)
    return [DiagnosisEvent(patient, diagnosis, ctx.position(index), test=ctx.test)]


def _merges(message: f.Message, ctx: MessageContext) -> list[Item]:
    """A40 repeats PID (survivor) + MRG (the record merged into it) pairs."""
    items: list[Item] = []
    survivor: PatientRef | None = None
    for index, seg in enumerate(message):
        kind = f.segment_id(seg)
        if kind == "PID":
            survivor = _patient(seg)
        elif kind == "MRG":
            if survivor is None:
                raise Unusable("MRG before any PID segment")
            old = f.patient_from_cx(seg, 1)
            if old is None:
                items.append(Reject(ctx.position(index), "MRG-1 holds no patient id", str(seg)))
            elif old == survivor:
                reason = "MRG-1 names the surviving patient itself"
                items.append(Reject(ctx.position(index), reason, str(seg)))
            else:
                items.append(MergeEvent(survivor, old, ctx.position(index), test=ctx.test))
    if not items:
        raise Unusable("ADT^A40 without an MRG segment")
    return items
