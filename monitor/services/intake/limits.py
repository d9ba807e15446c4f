"""What intake refuses because it cannot be stored: text longer than its column, NUL bytes.

The lengths are read from the tables themselves, so a migration that widens a column widens
what intake takes. A value refused here would otherwise be acknowledged and then fail in
the worker on every attempt (PostgreSQL raises on an over-long varchar or a NUL in text).
"""

from __future__ import annotations

from collections.abc import Iterator

from monitor.engine.model import PatientRef
from monitor.engine.risk import FACTOR_NAMES
from monitor.ingest.events import (
    AcuteMarkEvent,
    DiagnosisEvent,
    Item,
    MedicationEvent,
    MergeEvent,
    PatientEvent,
    PatientLinkEvent,
    ResultEvent,
)
from monitor.storage.repos.common import column_length as _length
from monitor.storage.tables import (
    FhirPatientLink,
    InboxItem,
    MedicationRecord,
    Patient,
    RejectRow,
    Result,
    RiskFactor,
    Ward,
)

AUTHORITY = _length(Patient.__table__.c.authority)
IDENTIFIER = _length(Patient.__table__.c.identifier)
BED = _length(Patient.__table__.c.bed)
ROOM = _length(Patient.__table__.c.room)
NAME = _length(Patient.__table__.c.display_name)  # cut to it where stored, never refused
WARD = _length(Ward.__table__.c.code)
RESULT_KEY = _length(Result.__table__.c.result_key)
CODE = _length(Result.__table__.c.loinc_code)
SPECIMEN = _length(Result.__table__.c.specimen)
MESSAGE_ID = _length(InboxItem.__table__.c.message_id)
FACTOR = _length(RiskFactor.__table__.c.factor)
ICD10 = _length(RiskFactor.__table__.c.icd10_code)
REJECT_POSITION = _length(RejectRow.__table__.c.position)
FHIR_ID = _length(FhirPatientLink.__table__.c.fhir_id)
FLAG = _length(Result.__table__.c.flag)  # the adapters cut to monitor.ingest.flags
_MED = MedicationRecord.__table__.c
# A medication's fields, by the name its checks report, and their columns' lengths.
MEDICATION_FIELDS = {"medication id": _length(_MED.med_key), "status": _length(_MED.status),
                     "medication code": _length(_MED.local_code),
                     "medication code system": _length(_MED.code_system),
                     "RxNorm code": _length(_MED.rxnorm), "amount": _length(_MED.amount),
                     "amount unit": _length(_MED.unit), "route": _length(_MED.route),
                     "medication": None}

# What each checked field is called in the sender's own terms; other formats use the
# generic names (the JSON and CSV column names where there is one).
_GENERIC = {
    "authority": "patient authority", "identifier": "patient identifier",
    "old authority": "merged patient authority", "old identifier": "merged patient identifier",
    "result_key": "result id", "code": "code", "specimen": "specimen", "ward": "ward",
    "bed": "bed", "room": "room", "value_raw": "value", "unit_raw": "unit",
    "diagnosis": "diagnosis code",
    "message_id": "message id", "flag": "lab flag", "fhir_id": "FHIR Patient id",
    **{name: name for name in MEDICATION_FIELDS},
}
_LABELS = {
    "hl7": {
        "authority": "PID-3.4 assigning authority", "identifier": "PID-3.1 patient id",
        "old authority": "MRG-1.4 assigning authority", "old identifier": "MRG-1.1 patient id",
        "result_key": "OBR-3/OBX-3/OBX-4 result id", "code": "OBX-3 code",
        "specimen": "SPM-4/OBR-15 specimen", "ward": "PV1-3.1 ward", "bed": "PV1-3.3 bed",
        "room": "PV1-3.2 room",
        "value_raw": "OBX-5 value", "unit_raw": "OBX-6 unit", "diagnosis": "DG1-3 code",
        "message_id": "MSH-10 message control id", "flag": "SPM-24/NTE-3 lab flag",
    },
    "fhir": {
        "authority": "subject identifier system", "identifier": "subject identifier",
        "result_key": "Observation identifier (or id)", "code": "Observation code",
        "value_raw": "Observation value", "unit_raw": "Observation unit",
        "diagnosis": "Condition code", "flag": "Specimen.condition/Observation.note lab flag",
        "fhir_id": "Patient.id",
    },
    "json": {"authority": "patient_authority", "identifier": "patient_id",
             "result_key": "result_id", "value_raw": "sodium", "flag": "flags"},
}
_LABELS["csv"] = _LABELS["json"]

Field = tuple[str, str | None, int | None]  # (name, value, limit; None: NUL check only)


def _patient(ref: PatientRef, prefix: str = "") -> Iterator[Field]:
    yield prefix + "authority", ref.authority, AUTHORITY
    yield prefix + "identifier", ref.identifier, IDENTIFIER


def _fields(item: Item) -> Iterator[Field]:
    if isinstance(item, MergeEvent):
        yield from _patient(item.survivor)
        yield from _patient(item.old, "old ")
        return
    if isinstance(item, PatientLinkEvent):
        yield from _patient(item.patient)
        yield "fhir_id", item.reference.identifier, FHIR_ID
        return
    if isinstance(item, MedicationEvent):
        yield from _patient(item.patient)
        m = item.medication
        for name, text in zip(MEDICATION_FIELDS, (
                m.key, m.status, m.local_code, m.code_system, m.rxnorm, m.amount,
                m.unit, m.route, m.text), strict=True):
            yield name, text, MEDICATION_FIELDS[name]
        return
    if not isinstance(item, ResultEvent | PatientEvent | DiagnosisEvent | AcuteMarkEvent):
        return
    yield from _patient(item.patient)
    if isinstance(item, ResultEvent):
        yield "result_key", item.result_key, RESULT_KEY
        yield "code", item.code, CODE
        yield "specimen", item.specimen, SPECIMEN
        # Stored cut to their column (value_raw[:100]); only a NUL cannot be stored at all.
        yield "value_raw", item.value_raw, None
        yield "unit_raw", item.unit_raw, None
        yield "message_id", item.message_id, MESSAGE_ID
        yield "flag", item.flag, FLAG
    if isinstance(item, ResultEvent | PatientEvent):
        yield "ward", item.ward, WARD
        yield "bed", item.bed, BED
        yield "room", item.room, ROOM
    if isinstance(item, DiagnosisEvent):
        code = item.diagnosis.code
        yield "diagnosis", code, FACTOR if code in FACTOR_NAMES else ICD10


def _problem(name: str, value: str | None, limit: int | None, fmt: str | None) -> str | None:
    if not value:
        return None
    label = _LABELS.get(fmt or "", {}).get(name) or _GENERIC[name]
    if "\x00" in value:
        return f"{label} contains a NUL byte, which cannot be stored"
    if limit is not None and len(value) > limit:
        return f"{label} is {len(value)} characters; at most {limit} are stored"
    return None


def unstorable(item: Item, fmt: str | None = None) -> str | None:
    """Why `item` cannot be stored (a field too long for its column, a NUL byte), or None."""
    problems = [p for field in _fields(item) if (p := _problem(*field, fmt)) is not None]
    return "; ".join(problems) or None


def unstorable_message_id(message_id: str | None, fmt: str | None = None) -> str | None:
    """Why a message's control id (MSH-10) cannot be stored in the inbox, or None."""
    return _problem("message_id", message_id, MESSAGE_ID, fmt)


def storable_text(text: str, limit: int | None = None) -> str:
    """`text` as a reject row can hold it: NUL shown as \\x00, cut to `limit`."""
    cleaned = text.replace("\x00", "\\x00")
    return cleaned if limit is None else cleaned[:limit]


def too_many_results(count: int, what: str, limit: int) -> str | None:
    """Why a message with `count` results (`what`: OBX segments, Bundle entries, rows) is
    refused whole, or None: a message that large would hold the workers for minutes."""
    if count <= limit:
        return None
    return (f"{count} {what} in one message; at most {limit} are taken "
            "(SODIUM_MAX_RESULTS_PER_MESSAGE): send them in several messages")


def hl7_segment_count(raw: str, segment_id: str) -> int:
    """How many `segment_id` segments (e.g. OBX) an HL7 message holds, counted before parsing."""
    lines = raw.replace("\n", "\r").split("\r")
    return sum(1 for line in lines if line[:3] == segment_id and line[3:4] not in ("", "\r"))
