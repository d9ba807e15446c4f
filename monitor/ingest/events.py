"""What the adapters produce: one event per result, diagnosis, medication, movement or merge.

Adapters never decide anything clinical; they translate a feed's text into these events
(or into a Reject with its reason). Every event carries its `position` (file and line, or
message control id) so that errors can be reported back to the sender.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from monitor.engine.medication import Medication
from monitor.engine.model import Analyte, Diagnosis, Method, PatientRef, ResultStatus


@dataclass(frozen=True, slots=True)
class Person:
    """Who the patient is, as the feed names them (HL7 PID-5/7/8, FHIR Patient): shown on
    the pages beside the identifier, never used by a rule, never put in a notification."""

    name: str | None = None  # "FAMILY, Given Middle", as on a wristband
    birth_date: date | None = None
    sex: str | None = None  # administrative sex: female / male / other / unknown

    def __bool__(self) -> bool:
        return bool(self.name or self.birth_date or self.sex)


@dataclass(slots=True)
class ResultEvent:
    """One version of one lab result.

    Not frozen on purpose: a frozen dataclass sets each of these fields through
    object.__setattr__, which doubles the cost of reading a CSV row (replay benchmark).
    Treat it as immutable all the same."""

    patient: PatientRef
    result_key: str  # identity, unique per feed (filler order + code + sub-id, FHIR id, ...)
    analyte: Analyte
    code: str | None  # LOINC code when known
    method: Method
    specimen: str | None  # specimen type as received (SPM-4 / OBR-15 / FHIR specimen)
    value_raw: str
    unit_raw: str
    value_mmol_l: float | None  # None for a removal
    collected_at: datetime  # UTC; specimen collection time, never receipt time
    status: ResultStatus
    position: str
    ward: str | None = None
    bed: str | None = None
    test: bool = False  # HL7 MSH-11 T (training) or D (debugging)
    message_id: str | None = None
    # The feed sent no id (a CSV or JSON row without result_id): `result_key` was built from
    # the content, so a different value under it may be another sample (engine.versions).
    key_inferred: bool = False
    # The laboratory's words when it flagged the specimen as contaminated or unsuitable
    # (monitor.ingest.flags): stored and shown, never counted.
    flag: str | None = None
    room: str | None = None  # PV1-3.2
    person: Person | None = None
    # A urine output: the start of its interval (`collected_at` is the end); else None.
    started_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DiagnosisEvent:
    patient: PatientRef
    diagnosis: Diagnosis
    position: str
    test: bool = False  # HL7 MSH-11 T (training) or D (debugging)

    @property
    def recorded_at(self) -> datetime | None:
        """When the sender says the diagnosis was recorded (DG1-5, recordedDate)."""
        return self.diagnosis.recorded


@dataclass(frozen=True, slots=True)
class MedicationEvent:
    """An order (HL7 RDE^O11, FHIR MedicationRequest) or administration (RAS^O17,
    MedicationAdministration, CSV) of a medication. The adapters leave its class unset: it is
    given where the event is applied, with the hospital's code map (engine.treatment)."""

    patient: PatientRef
    medication: Medication
    position: str
    test: bool = False  # HL7 MSH-11 T (training) or D (debugging)


@dataclass(frozen=True, slots=True)
class AcuteMarkEvent:
    """Acute hyponatremia documented to have begun at `onset` (a CSV feed's acute_onset):
    the same statement as a clinician's acute mark, for backfill and retrospective replay."""

    patient: PatientRef
    onset: datetime  # UTC
    position: str
    test: bool = False


@dataclass(frozen=True, slots=True)
class PatientEvent:
    """ADT: admit, transfer, discharge, register, update (ward from PV1-3.1)."""

    patient: PatientRef
    event_type: str  # A01, A02, A03, A04, A08
    ward: str | None
    bed: str | None
    discharged: bool
    position: str
    occurred_at: datetime | None = None
    test: bool = False  # HL7 MSH-11 T (training) or D (debugging)
    room: str | None = None  # PV1-3.2
    person: Person | None = None


@dataclass(frozen=True, slots=True)
class MergeEvent:
    """ADT^A40: the results of `old` move to `survivor`."""

    survivor: PatientRef
    old: PatientRef
    position: str
    test: bool = False  # HL7 MSH-11 T (training) or D (debugging): must not merge real patients


@dataclass(frozen=True, slots=True)
class PatientLinkEvent:
    """A FHIR Patient resource: its logical id `reference` ("Patient/x", held as
    PatientRef("", "x")) names the patient whose identifier is `patient`. What was keyed by
    the bare id before the Patient was seen merges into `patient`; later references resolve
    to it (monitor.services.intake.fhir_identity)."""

    reference: PatientRef
    patient: PatientRef
    position: str
    person: Person | None = None
    test: bool = False


def link_reason(link: PatientLinkEvent) -> str:
    """Why a patient keyed by a bare FHIR id was merged, in the words the pages show."""
    return (f"FHIR Patient/{link.reference.identifier} is patient {link.patient.identifier}: "
            "results sent before its Patient resource joined them")


@dataclass(frozen=True, slots=True)
class UnmappedCode:
    """A code the adapter saw and did not use (an Observation of another test, a Condition
    coded in a system it does not read): counted per feed, so that an integration engineer
    sees what is ignored. Concerns no patient."""

    system: str
    code: str
    position: str
    # How many times: the NDJSON pre-scan tallies the lines it leaves unread (fhir_split).
    count: int = 1
    # Tallied by one part of a split replay alone (each line's owner, or the part a shared
    # line's position falls to): the parts' counts add up. Otherwise every part may see the
    # same item, which the join counts once by its position.
    partitioned: bool = False


@dataclass(frozen=True, slots=True)
class Reject:
    """An input (message, resource, row or single result) that was not used, and why."""

    position: str
    reason: str
    payload: str = ""
    content_error: bool = True  # False: rejected for reasons unrelated to content (HL7 AR)


Event = (ResultEvent | DiagnosisEvent | AcuteMarkEvent | PatientEvent | MergeEvent
         | PatientLinkEvent | UnmappedCode | MedicationEvent)
Item = Event | Reject
# Items that name no single patient of their own (`.patient`).
NOT_ONE_PATIENT = (Reject, MergeEvent, PatientLinkEvent, UnmappedCode)


def patients_of(items: Iterable[Item]) -> set[PatientRef]:
    """The patients that events concern (a merge names two; rejects none)."""
    refs: set[PatientRef] = set()
    for e in items:
        if isinstance(e, MergeEvent):
            refs |= {e.survivor, e.old}
        elif isinstance(e, PatientLinkEvent):
            refs |= {e.patient, e.reference}
        elif not isinstance(e, Reject | UnmappedCode):
            refs.add(e.patient)
    return refs
