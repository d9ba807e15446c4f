"""Parsed events as JSON: the intake stores what it parsed with the payload, so a worker
reads the events back instead of parsing the message a second time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from monitor.engine.medication import Medication, MedicationClass, MedicationKind
from monitor.engine.model import Analyte, Diagnosis, Method, PatientRef, ResultStatus, RiskSource
from monitor.ingest.events import (
    AcuteMarkEvent,
    DiagnosisEvent,
    Event,
    Item,
    MedicationEvent,
    MergeEvent,
    PatientEvent,
    PatientLinkEvent,
    Person,
    ResultEvent,
    UnmappedCode,
)

# Bump when the shape changes: rows stored with another version are parsed again.
# 2: acute marks ("A"), which a worker reading version 1 would drop without a word.
# 3: a result's key_inferred, and CSV/JSON keys without result_id name method and code.
# 4: a result carries the lab's flag.
# 5: results and movements carry the room (PV1-3.2) and the person (name, birth date, sex).
# 6: FHIR Patient resources link their logical id to their identifier ("L").
# 7: a diagnosis carries its onset, abatement, encounter category and why it is void.
# 8: codes seen and not used ("U"), counted per feed.
# 9: a code not used carries how many times it was seen (a tally of lines left unread).
# 10: a urine output carries the start of its interval.
# 11: medication orders and administrations ("X").
# 12: body weight results (analyte body-weight, method vital-sign).
VERSION = 12


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _person(p: Person | None) -> list[Any] | None:
    if p is None:
        return None
    return [p.name, None if p.birth_date is None else p.birth_date.isoformat(), p.sex]


def _as_person(row: list[Any] | None) -> Person | None:
    if row is None:
        return None
    return Person(row[0], None if row[1] is None else date.fromisoformat(row[1]), row[2])


def dump(items: Iterable[Item]) -> dict[str, Any] | None:
    """The events (rejects are stored apart, as reject rows), as a JSON-ready value; None
    when nothing was parsed (the payload is then parsed where it is processed)."""
    out: list[list[Any]] = []
    items = list(items)
    for e in items:
        if isinstance(e, ResultEvent):
            out.append(["R", e.patient.authority, e.patient.identifier, e.result_key,
                        e.analyte.value, e.code, e.method.value, e.specimen, e.value_raw,
                        e.unit_raw, e.value_mmol_l, e.collected_at.isoformat(),
                        e.status.value, e.position, e.ward, e.bed, e.test, e.message_id,
                        e.key_inferred, e.flag, e.room, _person(e.person),
                        _when(e.started_at)])
        elif isinstance(e, DiagnosisEvent):
            out.append(["D", e.patient.authority, e.patient.identifier, e.diagnosis.code,
                        e.diagnosis.source.value, e.diagnosis.active, e.position,
                        _when(e.recorded_at), e.test, _when(e.diagnosis.onset),
                        _when(e.diagnosis.abated), e.diagnosis.encounter, e.diagnosis.voided])
        elif isinstance(e, AcuteMarkEvent):
            out.append(["A", e.patient.authority, e.patient.identifier, e.onset.isoformat(),
                        e.position, e.test])
        elif isinstance(e, PatientEvent):
            out.append(["P", e.patient.authority, e.patient.identifier, e.event_type, e.ward,
                        e.bed, e.discharged, e.position, _when(e.occurred_at), e.test,
                        e.room, _person(e.person)])
        elif isinstance(e, MergeEvent):
            out.append(["M", e.survivor.authority, e.survivor.identifier, e.old.authority,
                        e.old.identifier, e.position, e.test])
        elif isinstance(e, PatientLinkEvent):
            out.append(["L", e.reference.authority, e.reference.identifier,
                        e.patient.authority, e.patient.identifier, e.position,
                        _person(e.person), e.test])
        elif isinstance(e, UnmappedCode):
            out.append(["U", e.system, e.code, e.position, e.count])
        elif isinstance(e, MedicationEvent):
            m = e.medication
            out.append(["X", e.patient.authority, e.patient.identifier, m.key, m.kind.value,
                        m.at.isoformat(), m.text, m.status, m.local_code, m.code_system,
                        m.rxnorm, m.amount, m.unit, m.route,
                        None if m.med_class is None else m.med_class.value, e.position, e.test])
    return {"v": VERSION, "items": out} if items else None


def load(stored: dict[str, Any] | None) -> list[Event] | None:
    """The events stored by `dump`; None when there are none of this version."""
    if not stored or stored.get("v") != VERSION:
        return None
    events: list[Event] = []
    for row in stored["items"]:
        kind = row[0]
        if kind == "R":
            events.append(ResultEvent(
                PatientRef(row[1], row[2]), row[3], Analyte(row[4]), row[5], Method(row[6]),
                row[7], row[8], row[9], row[10], datetime.fromisoformat(row[11]),
                ResultStatus(row[12]), row[13], row[14], row[15], row[16], row[17],
                row[18], row[19], row[20], _as_person(row[21]), _at(row[22])))
        elif kind == "D":
            events.append(DiagnosisEvent(PatientRef(row[1], row[2]), Diagnosis(
                row[3], RiskSource(row[4]), row[5], _at(row[9]), _at(row[7]), _at(row[10]),
                row[11], row[12]), row[6], row[8]))
        elif kind == "A":
            events.append(AcuteMarkEvent(PatientRef(row[1], row[2]),
                                         datetime.fromisoformat(row[3]), row[4], row[5]))
        elif kind == "P":
            events.append(PatientEvent(PatientRef(row[1], row[2]), row[3], row[4], row[5],
                                       row[6], row[7], _at(row[8]), row[9], row[10],
                                       _as_person(row[11])))
        elif kind == "M":
            events.append(MergeEvent(PatientRef(row[1], row[2]), PatientRef(row[3], row[4]),
                                     row[5], row[6]))
        elif kind == "L":
            events.append(PatientLinkEvent(PatientRef(row[1], row[2]),
                                           PatientRef(row[3], row[4]), row[5],
                                           _as_person(row[6]), row[7]))
        elif kind == "U":
            events.append(UnmappedCode(row[1], row[2], row[3], row[4]))
        elif kind == "X":
            events.append(MedicationEvent(PatientRef(row[1], row[2]), Medication(
                row[3], MedicationKind(row[4]), datetime.fromisoformat(row[5]), row[6], row[7],
                row[8], row[9], row[10], row[11], row[12], row[13],
                None if row[14] is None else MedicationClass(row[14])), row[15], row[16]))
    return events
