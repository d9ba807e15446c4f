"""Checks every feed applies to a result before it becomes an event.

A failed check raises `Unusable` with a reason meant for the sender; each adapter turns it
into a `Reject` at the position it knows.
"""

from __future__ import annotations

import math

from monitor.engine.model import GLUCOSE_MG_DL_PER_MMOL_L, Analyte, ResultStatus


class Unusable(ValueError):
    """An input cannot be used; the message is the reason, written for the sender."""


# The same quantity for sodium and potassium; compared case-insensitively.
ACCEPTED_UNITS = frozenset({"mmol/l", "meq/l"})
_AS_SENT = frozenset({"mmol/L", "mEq/L", "meq/L"})  # skips lower() for the usual spellings

# Plausibility limits from the contract: a serum sodium outside them is a unit,
# transcription or contamination error rather than a measured value.
SODIUM_MIN_MMOL_L = 80.0
SODIUM_MAX_MMOL_L = 200.0
# Glucose: mg/dL or mmol/L (1 mmol/L = 18.016 mg/dL), stored in mmol/L; outside 10-3,000
# mg/dL a value is a unit or transcription error (project default).
GLUCOSE_MIN_MG_DL, GLUCOSE_MAX_MG_DL = 10.0, 3000.0
# Body weight: kg, g or pounds (UCUM [lb_av], or lb), stored in kg; outside 0.5-500 kg a
# value is a unit or transcription error (project default: a very premature newborn to the
# heaviest patients a ward weighs).
WEIGHT_MIN_KG, WEIGHT_MAX_KG = 0.5, 500.0
KG_PER_LB = 0.45359237  # the international avoirdupois pound
_WEIGHT_KG = {"kg": 1.0, "g": 0.001, "[lb_av]": KG_PER_LB, "lb": KG_PER_LB, "lbs": KG_PER_LB}

_COMPARATORS = ("<", ">", "≤", "≥")


def measured_value(
    analyte: Analyte, value_text: str, unit: str, status: ResultStatus
) -> float | None:
    """The value in mmol/L, or None for a removal.

    A removal (HL7 D/W/X, FHIR entered-in-error) needs no value; a make-final (HL7 U) may
    come without one, since it only confirms the preliminary value already received.
    Urine sodium and potassium are never compared with serum values, so their unit and range
    are not checked; urine output is converted to mL, urine osmolality kept in mOsm/kg, a
    body weight converted to kg.
    Written for the CSV hot path: the common case costs one float() and two comparisons.
    """
    if status is ResultStatus.REMOVED:
        return None
    try:
        number = float(value_text)  # tolerates surrounding blanks
    except ValueError:
        if status is ResultStatus.MAKE_FINAL and not value_text.strip():
            return None
        raise Unusable(_not_a_number(value_text.strip())) from None
    if not math.isfinite(number) or "_" in value_text:
        raise Unusable(f"value '{value_text.strip()}' is not a number")
    if analyte is Analyte.URINE_SODIUM or analyte is Analyte.URINE_POTASSIUM:
        return number
    if analyte is Analyte.URINE_OUTPUT or analyte is Analyte.URINE_OSMOLALITY:
        return _urine(analyte, number, unit)
    if analyte is Analyte.GLUCOSE:
        return _glucose(number, unit)
    if analyte is Analyte.BODY_WEIGHT:
        return _weight(number, unit)
    if unit not in _AS_SENT and unit.strip().lower() not in ACCEPTED_UNITS:
        raise Unusable(f"unit '{unit.strip()}' is not accepted for {analyte} (mmol/L or mEq/L)")
    if analyte is Analyte.SODIUM and not SODIUM_MIN_MMOL_L <= number <= SODIUM_MAX_MMOL_L:
        raise Unusable(
            f"sodium {number:g} mmol/L is outside the plausible range "
            f"{SODIUM_MIN_MMOL_L:g}-{SODIUM_MAX_MMOL_L:g} mmol/L"
        )
    return number


# UCUM and the usual spellings; osmolality's "{H2O}" annotation changes nothing.
_VOLUME_ML = {"ml": 1.0, "l": 1000.0, "cc": 1.0}
_OSMOLALITY = frozenset({"mosm/kg", "mosm/kg{h2o}", "mosm/kg h2o", "mmol/kg", "mmol/kg{h2o}"})


def _urine(analyte: Analyte, number: float, unit: str) -> float:
    """Urine output in mL (mL or L); urine osmolality in mOsm/kg. Never negative."""
    u = unit.strip().lower()
    if number < 0:
        raise Unusable(f"{analyte} {number:g} is negative")
    if analyte is Analyte.URINE_OUTPUT:
        if u not in _VOLUME_ML:
            raise Unusable(f"unit '{unit.strip()}' is not accepted for urine output (mL or L)")
        return number * _VOLUME_ML[u]
    if u not in _OSMOLALITY:
        raise Unusable(f"unit '{unit.strip()}' is not accepted for urine osmolality (mOsm/kg)")
    return number


def _glucose(number: float, unit: str) -> float:
    u = unit.strip().lower()
    if u in ("mg/dl", "mg/100ml"):
        mg_dl = number
    elif u == "mmol/l":
        mg_dl = number * GLUCOSE_MG_DL_PER_MMOL_L
    else:
        raise Unusable(f"unit '{unit.strip()}' is not accepted for glucose (mg/dL or mmol/L)")
    if not GLUCOSE_MIN_MG_DL <= mg_dl <= GLUCOSE_MAX_MG_DL:
        raise Unusable(f"glucose {mg_dl:g} mg/dL is outside the plausible range "
                       f"{GLUCOSE_MIN_MG_DL:g}-{GLUCOSE_MAX_MG_DL:g} mg/dL")
    return mg_dl / GLUCOSE_MG_DL_PER_MMOL_L


def _weight(number: float, unit: str) -> float:
    factor = _WEIGHT_KG.get(unit.strip().lower())
    if factor is None:
        raise Unusable(f"unit '{unit.strip()}' is not accepted for body weight (kg, g or lb)")
    kg = number * factor
    if not WEIGHT_MIN_KG <= kg <= WEIGHT_MAX_KG:
        raise Unusable(f"body weight {kg:g} kg is outside the plausible range "
                       f"{WEIGHT_MIN_KG:g}-{WEIGHT_MAX_KG:g} kg")
    return kg


def _not_a_number(text: str) -> str:
    if not text:
        return "no value"
    if text.startswith(_COMPARATORS):
        return f"value '{text}' is censored (a comparator, not a measured value)"
    return f"value '{text}' is not a number"
