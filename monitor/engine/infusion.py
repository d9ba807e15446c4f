"""What an infusion is expected to do to the serum sodium: the Adrogué–Madias formula.

    change per litre = (infusate Na + infusate K − serum Na) / (total body water + 1)

(Adrogué & Madias, N Engl J Med 2000;342:1581-9.) Total body water is a fraction of the
body weight by sex and age (0.6 men, 0.5 women; 0.5 and 0.45 over 65: the fractions that
paper tabulates). It is a closed-system estimate: one litre added to the body's water and
cations, nothing lost. It ignores urine and other losses (a water diuresis raises the sodium
far faster than any infusion predicts: engine.fluids warns of it) and the infusion's own
effect on them, so it is shown as guidance beside the measured trend, never instead of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from monitor.engine.medication import Medication, MedicationClass
from monitor.engine.policy import Policy

# The classes of fluid an infusion prediction is made for.
FLUID_CLASSES = frozenset({MedicationClass.HYPERTONIC_SALINE, MedicationClass.ISOTONIC_SALINE,
                           MedicationClass.HYPOTONIC_FLUID})


@dataclass(frozen=True, slots=True)
class Infusate:
    """A fluid's sodium and potassium (mmol/L), as the policy names it."""

    name: str
    sodium: float
    potassium: float = 0.0


@dataclass(frozen=True, slots=True)
class Prediction:
    infusate: Infusate
    body_water_l: float
    water_fraction: float
    change_per_litre: float  # mmol/L; negative: the fluid lowers the sodium
    # Litres of this fluid until the rise reaches the allowance left (None: it does not
    # raise the sodium, or nothing is left to allow).
    litres_to_limit: float | None


def infusate_of(text: str, policy: Policy) -> Infusate | None:
    """The first of the policy's infusates whose pattern the order's text matches
    (case-insensitive): "Sodium chloride 3% 250 mL IV" is hypertonic saline. None: the text
    names no fluid the policy knows; nothing is predicted (never guessed)."""
    for known in policy.prediction.infusates:
        if re.search(known.pattern, text, re.IGNORECASE):
            return Infusate(known.name, known.sodium_mmol_l, known.potassium_mmol_l)
    return None


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def water_fraction(sex: str | None, age: int | None, policy: Policy) -> float | None:
    """Total body water as a fraction of weight, by administrative sex as the feeds send it
    (male / female); None when it is another or not known (the two
    fractions differ by a fifth: no estimate is better than a wrong one). An unknown age
    counts as under the elderly age (the larger fraction: the smaller predicted change)."""
    p = policy.prediction
    elderly = age is not None and age >= p.elderly_age
    if sex == "male":
        return p.water_fraction_elderly_male if elderly else p.water_fraction_male
    if sex == "female":
        return p.water_fraction_elderly_female if elderly else p.water_fraction_female
    return None


def predict(serum_na: float, weight_kg: float, sex: str | None, age: int | None,
            infusate: Infusate, allowance_mmol_l: float | None, policy: Policy
            ) -> Prediction | None:
    """The expected change per litre of `infusate`, and the litres that would use up
    `allowance_mmol_l` (the rise still allowed in the current window). None when the body
    water cannot be estimated (weight or sex unknown)."""
    fraction = water_fraction(sex, age, policy)
    if fraction is None or weight_kg <= 0:
        return None
    water = fraction * weight_kg
    change = (infusate.sodium + infusate.potassium - serum_na) / (water + 1)
    litres = allowance_mmol_l / change if change > 0 and allowance_mmol_l is not None \
        and allowance_mmol_l > 0 else None
    return Prediction(infusate, water, fraction, change, litres)


def active_infusion(medications: Iterable[Medication], now: datetime, policy: Policy
                    ) -> tuple[Medication, Infusate] | None:
    """The latest order or administration of a fluid (FLUID_CLASSES) that counts (not void),
    lies within the policy's prediction.infusion_hours (24 h) before `now`, and whose text
    names a fluid the policy knows; None when there is none."""
    since = now - timedelta(hours=policy.prediction.infusion_hours)
    found = None
    for med in medications:
        if med.med_class not in FLUID_CLASSES or not med.counts or not since <= med.at <= now:
            continue
        fluid = infusate_of(med.text, policy)
        if fluid is not None and (found is None or med.at > found[0].at):
            found = (med, fluid)
    return found
