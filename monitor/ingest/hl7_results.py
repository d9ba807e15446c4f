"""ORU^R01 -> one ResultEvent per OBX of an analyte we follow (sodium, potassium, glucose,
the urine analytes; a urine output from a nursing flowsheet over its interval)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from monitor.engine.model import Analyte, PatientRef, ResultStatus
from monitor.ingest import hl7_fields as f
from monitor.ingest.checks import Unusable, measured_value
from monitor.ingest.codes import classify, resolve_loinc
from monitor.ingest.events import Item, Person, Reject, ResultEvent, UnmappedCode
from monitor.ingest.flags import CONTAMINATED, condition_words, flag_text, suspect_words
from monitor.ingest.hl7_context import MessageContext
from monitor.ingest.intervals import output_interval
from monitor.ingest.times import parse_hl7_ts

# OBX-11, HL7 table 0085. Other codes (R, S, I, N, ...) are not results one can count.
RESULT_STATUS = {
    "F": ResultStatus.FINAL,
    "C": ResultStatus.CORRECTED,
    "P": ResultStatus.PRELIMINARY,
    "U": ResultStatus.MAKE_FINAL,
    "D": ResultStatus.REMOVED,
    "W": ResultStatus.REMOVED,
    "X": ResultStatus.REMOVED,
}


@dataclass(slots=True)
class _Order:
    """An ORDER_OBSERVATION group: its SPM segments follow the OBX segments they describe;
    NTE segments follow the OBR (about the order) or the OBX (about that result)."""

    patient: PatientRef
    ward: str | None
    room: str | None
    bed: str | None
    person: Person | None
    orc: f.Segment | None
    obr: f.Segment | None
    observations: list[int] = field(default_factory=list)  # segment indexes of the OBX
    specimens: list[f.Segment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # NTE-3 after the OBR
    result_notes: dict[int, list[str]] = field(default_factory=dict)  # by OBX index


def oru_items(message: f.Message, ctx: MessageContext) -> list[Item]:
    items: list[Item] = []
    for order in _orders(message):
        for index in order.observations:
            try:
                event = _result(message[index], index, order, ctx)
            except Unusable as exc:
                items.append(Reject(ctx.position(index), str(exc), str(message[index])))
                continue
            if event is not None:
                items.append(event)
            else:  # ordinary traffic, counted so that the integration engineer sees it
                items += _unmapped(message[index], ctx.position(index))
    return items


def _unmapped(obx: f.Segment, position: str) -> list[Item]:
    """OBX-3's identifier and its alternate, each with its coding system."""
    codings = [(f.value(obx, 3, 3), f.value(obx, 3, 1)), (f.value(obx, 3, 6), f.value(obx, 3, 4))]
    return [UnmappedCode(system, code, position)
            for system, code in dict.fromkeys(codings) if code]


def _orders(message: f.Message) -> list[_Order]:
    orders: list[_Order] = []
    patient: PatientRef | None = None
    ward = room = bed = None
    person: Person | None = None
    orc = current = None
    notes: list[str] | None = None  # where an NTE here belongs: after an OBR or an OBX
    for index, seg in enumerate(message):
        kind = f.segment_id(seg)
        if kind == "NTE":
            if notes is not None:
                notes.append(_comment(seg))
            continue
        notes = None
        if kind == "PID":
            patient = f.patient_from_cx(seg, 3)
            if patient is None:
                raise Unusable("PID-3 holds no patient identifier")
            person = f.person_from_pid(seg)
            ward = room = bed = current = None
        elif kind == "PV1":
            ward, room, bed = (f.value(seg, 3, c) or None for c in (1, 2, 3))
        elif kind == "ORC":
            orc = seg
        elif kind == "OBR" or (kind == "OBX" and current is None):
            # An OBX with no OBR before it (some senders skip the OBR) is an order of its own.
            if patient is None:
                raise Unusable(f"{kind} before any PID segment")
            current = _Order(patient, ward, room, bed, person, orc,
                             seg if kind == "OBR" else None)
            orders.append(current)
            orc = None
        if kind == "OBR" and current is not None:
            notes = current.notes
        if kind == "OBX" and current is not None:
            current.observations.append(index)
            notes = current.result_notes.setdefault(index, [])
        elif kind == "SPM" and current is not None:
            current.specimens.append(seg)
    return orders


def _result(obx: f.Segment, index: int, order: _Order, ctx: MessageContext) -> ResultEvent | None:
    code = f.value(obx, 3, 1)
    codings = [(code, f.value(obx, 3, 3)), (f.value(obx, 3, 4), f.value(obx, 3, 6))]
    loinc = resolve_loinc(codings, ctx.local_codes)
    specimen_code, specimen = _specimen(order)
    kind = classify(loinc, f"{specimen_code} {specimen}")
    if kind is None:
        return None  # not an analyte we follow: ordinary traffic
    analyte, method = kind
    status_code = f.value(obx, 11)
    status = RESULT_STATUS.get(status_code)
    if status is None:
        raise Unusable(f"OBX-11 result status '{status_code}' is not usable (F, C, P, U, D, W, X)")
    started_at = None
    if analyte is Analyte.URINE_OUTPUT:
        started_at, collected_at = _output_interval(order, obx, loinc, ctx)
    else:
        collected_at = _collected_at(order, obx, ctx)
    unit = f.value(obx, 6, 1) or f.value(obx, 6, 2)
    value_mmol_l = measured_value(analyte, _value_text(obx), unit, status)
    numbers = [f.value(seg, 3, 1) for seg in (order.obr, order.orc) if seg is not None]
    filler = next((number for number in numbers if number), "")
    if not filler:
        raise Unusable("no filler order number (OBR-3 or ORC-3) to identify the result")
    return ResultEvent(
        patient=order.patient,
        result_key=f"{filler}|{code}|{f.value(obx, 4)}",
        analyte=analyte,
        code=loinc,
        method=method,
        specimen=specimen or specimen_code or None,
        value_raw=f.raw(obx, 5),
        unit_raw=unit,
        value_mmol_l=value_mmol_l,
        collected_at=collected_at,
        status=status,
        position=ctx.position(index),
        ward=order.ward,
        bed=order.bed,
        test=ctx.test,
        message_id=ctx.control_id,
        flag=_flag(order, index, ctx),
        room=order.room,
        person=order.person,
        started_at=started_at,
    )


def _comment(nte: f.Segment) -> str:
    """NTE-3 (formatted text, repeating) as one line."""
    return " ".join(f.value(nte, 3, rep=r) for r in range(1, f.repetitions(nte, 3) + 1))


def _flag(order: _Order, index: int, ctx: MessageContext) -> str | None:
    """The lab's words when SPM-24 says the specimen is contaminated (table 0493 CON, in
    the identifier or the alternate identifier) or an NTE of the order or of this result
    matches the suspect comments."""
    words = []
    for spm in order.specimens:
        for r in range(1, f.repetitions(spm, 24) + 1):
            codes = (f.value(spm, 24, 1, rep=r), f.value(spm, 24, 4, rep=r))
            if any(c.strip().upper() == CONTAMINATED for c in codes):
                text = f.value(spm, 24, 2, rep=r) or f.value(spm, 24, 5, rep=r)
                words.append(condition_words(CONTAMINATED, text))
    comments = order.notes + order.result_notes.get(index, [])
    return flag_text(words + suspect_words(comments, ctx.suspect_comments))


def _specimen(order: _Order) -> tuple[str, str]:
    """(code, text) of SPM-4, else of OBR-15 (whose first component has subcomponents)."""
    for spm in order.specimens:
        if f.value(spm, 4, 1) or f.value(spm, 4, 2):
            return f.value(spm, 4, 1), f.value(spm, 4, 2)
    if order.obr is None:
        return "", ""
    return f.value(order.obr, 15, 1, sub=1), f.value(order.obr, 15, 1, sub=2)


def _collected_at(order: _Order, obx: f.Segment, ctx: MessageContext) -> datetime:
    """SPM-17 (start of the range), else OBR-7, else OBX-14: never the message time."""
    candidates = [("SPM-17", f.value(spm, 17, 1, sub=1)) for spm in order.specimens]
    if order.obr is not None:
        candidates.append(("OBR-7", f.value(order.obr, 7, 1)))
    candidates.append(("OBX-14", f.value(obx, 14, 1)))
    for label, text in candidates:
        if text:
            return parse_hl7_ts(text, ctx.tz, field=f"{label} collection time")
    raise Unusable("no collection time (SPM-17, OBR-7 or OBX-14)")


def _output_interval(order: _Order, obx: f.Segment, loinc: str | None, ctx: MessageContext
                     ) -> tuple[datetime | None, datetime]:
    """A urine output's interval. HL7 v2.5.1 (4.5.3): OBR-7 is the start of a collection
    over an interval and OBR-8 its end, so an OBR that gives OBR-8 gives the interval.
    Otherwise the one time given (OBX-14, else OBR-7) is the end of a volume whose code
    fixes the hours (ingest.intervals)."""
    obr = order.obr
    end_text = f.value(obr, 8, 1) if obr is not None else ""
    if end_text:
        end = parse_hl7_ts(end_text, ctx.tz, field="OBR-8 observation end time")
        start_text = f.value(obr, 7, 1) if obr is not None else ""
        start = parse_hl7_ts(start_text, ctx.tz, field="OBR-7 observation time") \
            if start_text else None
        return output_interval(loinc, start, end)
    for label, text in (("OBX-14", f.value(obx, 14, 1)),
                        ("OBR-7", f.value(obr, 7, 1) if obr is not None else "")):
        if text:
            return output_interval(loinc, None, parse_hl7_ts(text, ctx.tz, field=label))
    raise Unusable("no time for the urine output (OBR-7/OBR-8 or OBX-14)")


def _value_text(obx: f.Segment) -> str:
    """OBX-5 as a number's text; an SN (comparator^num1^separator^num2) is unpacked."""
    if f.value(obx, 2) != "SN" and not f.value(obx, 5, 2):
        return f.value(obx, 5)
    comparator, number = f.value(obx, 5, 1), f.value(obx, 5, 2)
    if f.value(obx, 5, 3) or f.value(obx, 5, 4):
        raise Unusable(f"value '{f.raw(obx, 5)}' is a range or ratio, not a single value")
    return number if comparator in {"", "="} else comparator + number
