"""Value types of the clinical core.

Everything here is plain data: the adapters (monitor.ingest) produce it, the storage layer
maps rows to it, and the rules (monitor.engine.rules) read it. Times are timezone-aware UTC
datetimes; sodium and potassium values are in mmol/L (mEq/L is the same quantity); the urine
analytes and the body weight keep their own units in the same field (osmolality mOsm/kg,
output mL, weight kg).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

GLUCOSE_MG_DL_PER_MMOL_L = 18.016  # glucose, 180.16 g/mol


class Analyte(StrEnum):
    SODIUM = "sodium"
    POTASSIUM = "potassium"
    URINE_SODIUM = "urine-sodium"
    URINE_POTASSIUM = "urine-potassium"  # mmol/L
    URINE_OSMOLALITY = "urine-osmolality"  # mOsm/kg
    # Urine output over an interval (mL): the result's time is the interval's end, and
    # `started_at` its start (engine.fluids reads the rate from the two).
    URINE_OUTPUT = "urine-output"
    # Stored in mmol/L like the others; the glucose correction works in mg/dL.
    GLUCOSE = "glucose"
    # Body weight (kg): no rule reads it; the infusion prediction (engine.infusion) does.
    BODY_WEIGHT = "body-weight"


# Urine analytes: measured in urine, never a serum value; each is held in its own unit.
URINE_ANALYTES = frozenset({Analyte.URINE_SODIUM, Analyte.URINE_POTASSIUM,
                            Analyte.URINE_OSMOLALITY, Analyte.URINE_OUTPUT})


class Method(StrEnum):
    """How the value was measured: the methods differ by 2-4 mmol/L for sodium."""

    LAB = "lab"  # core laboratory, serum or plasma (indirect ISE)
    POINT_OF_CARE = "poc"  # blood gas analyser or point-of-care device (direct ISE)
    URINE = "urine"
    VITAL_SIGN = "vital-sign"  # a bedside measurement (body weight), not a laboratory one


class ResultStatus(StrEnum):
    """What a version of a result does to the stored value (HL7 table 0085, FHIR status)."""

    PRELIMINARY = "preliminary"  # HL7 P, FHIR preliminary
    FINAL = "final"  # HL7 F, FHIR final
    CORRECTED = "corrected"  # HL7 C, FHIR corrected / amended: replaces the earlier value
    MAKE_FINAL = "make-final"  # HL7 U: the preliminary becomes final without a new value
    REMOVED = "removed"  # HL7 D / W / X, FHIR entered-in-error / cancelled: a tombstone


class RiskSource(StrEnum):
    ADT = "ADT"
    FHIR = "FHIR"
    CLINICIAN = "clinician"
    LAB = "lab-derived"
    CSV = "CSV"


@dataclass(frozen=True, slots=True)
class PatientRef:
    """A patient is keyed by (assigning authority, identifier)."""

    authority: str
    identifier: str

    def __str__(self) -> str:
        return f"{self.authority}|{self.identifier}"


@dataclass(slots=True, eq=True)
class Measurement:  # not frozen: built per result on the hot path
    """One counted lab value of a patient, as the rules see it."""

    result_key: str
    analyte: Analyte
    value_mmol_l: float
    collected_at: datetime
    method: Method = Method.LAB
    # A sodium the rules see corrected for a paired high glucose: the value as measured.
    measured_mmol_l: float | None = None
    # A urine output: when its interval began (`collected_at` is its end); None otherwise.
    started_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """A coded diagnosis (ICD-10 or ICD-10-CM, dot removed, upper case) or a risk factor's
    name, as one source states it now. Its span over time is the engine's to judge
    (monitor.engine.risk.held_span): the statement only carries the sender's facts."""

    code: str
    source: RiskSource
    # Clinically active (FHIR clinicalStatus active/recurrence/relapse; an HL7 DG1 and a
    # CSV or clinician entry are active). False: resolved, inactive or in remission.
    active: bool = True
    onset: datetime | None = None  # FHIR onsetDateTime / onsetPeriod.start
    recorded: datetime | None = None  # FHIR recordedDate, HL7 DG1-5
    abated: datetime | None = None  # FHIR abatementDateTime / abatementPeriod.end or .start
    # FHIR category encounter-diagnosis: a status that follows the stay, not the disease.
    encounter: bool = False
    # Why the diagnosis is not true at all (verificationStatus refuted or entered-in-error,
    # DG1-21 D, removed by a clinician): it then counts for no result, earlier or later.
    voided: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule that holds at one result: the unit from which alerts are built."""

    rule: str
    severity: str  # "warning" | "critical"
    result_key: str
    collected_at: datetime
    value_mmol_l: float
    rise_mmol_l: float | None
    window_hours: float | None
    limit_mmol_l: float | None
    risk_tier: str  # "standard" | "high"
    risk_factors: tuple[str, ...] = ()
    mixed_methods: bool = False
    extra: dict[str, float] = field(default_factory=dict, compare=False, hash=False)
