"""Risk factors: from coded diagnoses (policy mapping) and from lab values.

Any risk factor puts the patient in the high-risk tier, whose limits are lower
(seed guideline: liver disease, alcoholism, malnutrition; 2013 US panel adds hypokalemia and
Na <= 105).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from monitor.engine.model import Diagnosis
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


def factor_of(code: str, policy: Policy) -> str | None:
    """The policy's risk factor for an ICD-10 code, a SNOMED CT code ("SCT:<id>", from the
    policy's own table, never read as ICD-10) or a factor's name; None for others."""
    if code.lower() in FACTOR_NAMES:
        return code.lower()
    if code.upper().startswith(SNOMED_PREFIX):
        snomed = _snomed_factors(tuple(
            (f, tuple(ids)) for f, ids in sorted(policy.snomed_risk_codes.items())))
        return snomed.get(code[len(SNOMED_PREFIX):].strip())
    mapping = tuple((f, tuple(specs)) for f, specs in sorted(policy.risk_codes.items()))
    return _factor_for(normalise_code(code), mapping)


def factors_from_diagnoses(codes: Iterable[str], policy: Policy) -> frozenset[str]:
    """Map ICD-10 codes, SNOMED CT codes or factor names to the policy's risk factors."""
    return frozenset(f for f in (factor_of(c, policy) for c in codes) if f is not None)


@dataclass(frozen=True, slots=True)
class Held:
    """A risk factor a diagnosis gives the results collected in [start, end) (epoch s)."""

    factor: str
    code: str
    start: float = -math.inf
    end: float = math.inf

    def covers(self, t: float) -> bool:
        return self.start <= t < self.end


def held_span(d: Diagnosis, policy: Policy) -> tuple[float, float] | None:
    """When a diagnosis puts results in the high-risk tier; None when never.

    - Refuted, entered in error or withdrawn (`voided`): never.
    - It starts at its onset. Without one a chronic factor holds from before any result (it
      existed before anyone recorded it: the stricter limit is the safe error); another
      (coded hypokalemia) from its recorded date, else from before any result.
    - Active: until its abatement date, if it has one.
    - Resolved, inactive or in remission: a chronic factor holds until the abatement date;
      without one, or when the category is encounter-diagnosis (an EHR resolves the stay's
      diagnoses at discharge; the cirrhosis is still there), it keeps holding. Another
      factor holds until its abatement date; without one it no longer holds at all.
    """
    return _span(d, factor_of(d.code, policy), policy)


def _span(d: Diagnosis, factor: str | None, policy: Policy) -> tuple[float, float] | None:
    if d.voided:
        return None
    chronic = factor in policy.chronic_factors
    since = d.onset if d.onset is not None else None if chronic else d.recorded
    start = -math.inf if since is None else since.timestamp()
    end = math.inf if d.abated is None else d.abated.timestamp()
    if not d.active:
        if chronic and d.encounter:
            end = math.inf
        elif not chronic and d.abated is None:
            return None
    return (start, end) if start < end else None


def held_factors(diagnoses: Iterable[Diagnosis], policy: Policy) -> tuple[Held, ...]:
    """The risk factors the patient's diagnoses give, each with its span."""
    held: list[Held] = []
    for d in diagnoses:
        factor = factor_of(d.code, policy)
        span = None if factor is None else _span(d, factor, policy)
        if factor is not None and span is not None:
            held.append(Held(factor, d.code, *span))
    return tuple(sorted(held, key=lambda h: (h.factor, h.start, h.end, h.code)))
