"""Risk factors: from coded diagnoses (policy mapping) and from lab values.

Any risk factor puts the patient in the high-risk tier, whose limits are lower
(seed guideline: liver disease, alcoholism, malnutrition; 2013 US panel adds hypokalemia and
Na <= 105).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from monitor.engine.policy import Policy

SODIUM_LOW = "sodium<=105"
POTASSIUM_LOW = "hypokalemia"

# Names a CSV or a clinician may use instead of a code.
FACTOR_NAMES = ("liver-disease", "alcohol-use-disorder", "malnutrition", "hypokalemia")


# How a SNOMED CT concept is held as a diagnosis code, apart from ICD-10: "SCT:19943007".
SNOMED_PREFIX = "SCT:"


def normalise_code(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


def display_code(code: str) -> str:
    """ICD-10 as clinicians write it: the dot after the category (F1020 -> F10.20)."""
    return f"{code[:3]}.{code[3:]}" if len(code) > 3 and code[0].isalpha() \
        and "." not in code and not code.startswith(SNOMED_PREFIX) else code


def _in_range(code: str, spec: str) -> bool:
    """`spec` is a prefix ("F10", "E876") or a range of 3-character categories ("K70-K77")."""
    spec = normalise_code(spec)
    if "-" not in spec:
        return code.startswith(spec)
    low, high = spec.split("-", 1)
    head = code[: len(low)]
    return len(code) >= len(low) and low <= head <= high


@cache
def _factor_for(code: str, mapping: tuple[tuple[str, tuple[str, ...]], ...]) -> str | None:
    for factor, specs in mapping:
        if any(_in_range(code, spec) for spec in specs):
            return factor
    return None


@cache
def _snomed_factors(mapping: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, str]:
    return {concept: factor for factor, concepts in mapping for concept in concepts}


def factors_from_diagnoses(codes: Iterable[str], policy: Policy) -> frozenset[str]:
    """Map ICD-10 codes, SNOMED CT codes ("SCT:<id>") or factor names to the policy's risk
    factors."""
    mapping = tuple((f, tuple(specs)) for f, specs in sorted(policy.risk_codes.items()))
    snomed = _snomed_factors(tuple(
        (f, tuple(ids)) for f, ids in sorted(policy.snomed_risk_codes.items())))
    found: set[str] = set()
    for raw in codes:
        if raw.lower() in FACTOR_NAMES:
            found.add(raw.lower())
            continue
        if raw.upper().startswith(SNOMED_PREFIX):  # never read as an ICD-10 code
            factor = snomed.get(raw[len(SNOMED_PREFIX):].strip())
        else:
            factor = _factor_for(normalise_code(raw), mapping)
        if factor is not None:
            found.add(factor)
    return frozenset(found)
