"""Medications: their class, and the rule that reads them (issue 16).

Pure: the hospital's code map and the policy are arguments. A medication's class comes from
the hospital's code map (SODIUM_MEDICATION_MAP: local code -> class), then RxNorm (the small
table below, each code checked and listed in docs/clinical-rules.md §2.5), then the policy's
text patterns. What none of them names stays unknown: stored and shown, never guessed.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import cache

from monitor.engine.medication import Medication, MedicationClass
from monitor.engine.model import Finding, Measurement
from monitor.engine.policy import Policy
from monitor.engine.rules import HYPERTONIC_SALINE_MILD
from monitor.engine.windows import HOUR

RXNORM_SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"
# HL7 v2 CE/CWE coding system names for RxNorm (table 0396), compared in upper case.
RXNORM_NAMES = frozenset({"RXNORM", "RXN", RXNORM_SYSTEM.upper()})

# RxNorm ingredient concepts (RXCUI -> class). Only codes confirmed in more than one
# independent source are here; the others are named in docs/clinical-rules.md §2.5 as left
# out. An order coded at another level (a clinical drug) classifies by its text.
RXNORM_CLASSES: dict[str, MedicationClass] = {
    "4603": MedicationClass.LOOP_DIURETIC,  # furosemide
    "5487": MedicationClass.THIAZIDE_DIURETIC,  # hydrochlorothiazide
}

# The classes some rule reads: the live service loads only these into a patient's ledger.
RULED_CLASSES = frozenset({MedicationClass.HYPERTONIC_SALINE})
# Which way a class moves serum sodium, as the chart marks it (docs/clinical-rules.md §2.5):
# saline, vaptans, urea and salt tablets are the treatments that raise it (Spasovski 2014);
# desmopressin and electrolyte-free water lower it (Sterns & Hix 2009). Diuretics act both
# ways and are neither.
SODIUM_RAISING_CLASSES = frozenset({
    MedicationClass.HYPERTONIC_SALINE, MedicationClass.ISOTONIC_SALINE, MedicationClass.VAPTAN,
    MedicationClass.UREA, MedicationClass.SALT_TABLETS})
SODIUM_LOWERING_CLASSES = frozenset({MedicationClass.DESMOPRESSIN,
                                     MedicationClass.HYPOTONIC_FLUID})
# Given after an overcorrection, these bring sodium down again: the treating physician's
# re-lowering (Sterns & Hix 2009; Spasovski 2014), noted on the overcorrection alert.
RELOWERING_CLASSES = SODIUM_LOWERING_CLASSES


def classify(med: Medication, code_map: Mapping[str, str], policy: Policy) -> Medication:
    """The medication with its class: code map, then RxNorm, then text (None: unknown)."""
    return replace(med, med_class=class_of(med, code_map, policy))


def class_of(med: Medication, code_map: Mapping[str, str], policy: Policy
             ) -> MedicationClass | None:
    if med.local_code and med.local_code in code_map:
        return MedicationClass(code_map[med.local_code])
    if med.rxnorm and med.rxnorm in RXNORM_CLASSES:
        return RXNORM_CLASSES[med.rxnorm]
    text = med.text.lower()
    for name, pattern in _compiled(policy.treatment.text_patterns):
        if pattern.search(text):
            return MedicationClass(name)
    return None


@cache
def _compiled(patterns: tuple[tuple[str, str], ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((name, re.compile(p)) for name, p in patterns)


def hypertonic_findings(measurements: Sequence[Measurement], times: Sequence[float],
                        values: Sequence[float], first: int, medications: Iterable[Medication],
                        symptoms: Sequence[datetime], policy: Policy) -> list[Finding]:
    """HYPERTONIC_SALINE_MILD (warning) at the latest counted sodium before each hypertonic
    saline order or administration, for the sodium results from index `first` on: the
    sodium lies at or above the mild band's lower limit (bands.mild_min, mmol/L) and no
    clinician recorded severe symptoms within `treatment.symptoms_hours` of it. Seed
    pitfall; Spasovski et al., Eur J Endocrinol 2014 (hypertonic saline is for severe or
    moderately severe symptoms)."""
    t, b = policy.treatment, policy.bands
    found: dict[int, Finding] = {}
    for med in medications:
        if med.med_class is not MedicationClass.HYPERTONIC_SALINE or not med.counts:
            continue
        at = med.at.timestamp()
        i = bisect_right(times, at) - 1
        if i < first or at - times[i] > t.sodium_lookback_hours * HOUR:
            continue
        if values[i] < b.mild_min or i in found:
            continue
        if any(abs(s.timestamp() - at) <= t.symptoms_hours * HOUR for s in symptoms):
            continue
        m = measurements[i]
        found[i] = Finding(
            rule=HYPERTONIC_SALINE_MILD, severity="warning",
            result_key=m.result_key, collected_at=m.collected_at,
            value_mmol_l=values[i], rise_mmol_l=None, window_hours=None,
            limit_mmol_l=b.mild_min, risk_tier="standard",
            extra={"given_at": at, "administration": float(med.kind == "administration")})
    return [found[i] for i in sorted(found)]
