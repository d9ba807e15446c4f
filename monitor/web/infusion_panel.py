"""The patient page's infusion panel: what the running fluid is expected to do to the sodium,
in the words a clinician reads.

No clinical number is computed here: the prediction is engine.infusion's (Adrogué–Madias),
the limit and what is left of it are the corridor's (engine.corridor.Allowance, the rules'
own bounds, as the chart shows them). This module picks the inputs, rounds (0.1 mmol/L,
10 mL) and says what is missing when no estimate can be made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from monitor.engine.corridor import Allowance
from monitor.engine.infusion import active_infusion, age_on, predict
from monitor.engine.medication import Medication, MedicationKind
from monitor.engine.model import Analyte
from monitor.engine.policy import Policy
from monitor.engine.wording import number

# The formula's limits, stated wherever the estimate is shown (docs/clinical-rules.md §2.6).
LIMITS = ("A closed-system estimate (Adrogué–Madias): one litre added to the body's water, "
          "nothing lost. It ignores urine and other losses — a water diuresis raises the "
          "sodium far faster than any infusion predicts (the water-diuresis warning watches "
          "for it) — and it needs weight and sex. Measured sodium, not this estimate, "
          "drives every alert.")


@dataclass(frozen=True)
class InfusionPanel:
    medication: Medication
    fluid: str  # "3 % saline: Na 513 mmol/L"
    facts: list[tuple[str, str]]  # (label, value) rows
    missing: list[str]  # what prevents an estimate ("weight not known"), empty when made
    change_text: str | None  # "+14.5 mmol/L per litre"
    volume_text: str  # the volume to the limit, or why none is given
    limits: str = LIMITS


def infusion_panel(medications: Sequence[Medication], weight: tuple[float, datetime, str] | None,
                   sex: str | None, birth: date | None, allowance: Allowance | None,
                   no_limit: str | None, results: Sequence[Any], policy: Policy,
                   now: datetime, when: Any) -> InfusionPanel | None:
    """The panel for the patient's latest active infusion (None: none). `allowance` is the
    corridor's at `now` (None: no limit applies, `no_limit` says why); `results` the page's
    rows, read for the latest counted sodium when no allowance holds it; `when` formats a
    time as the page does."""
    found = active_infusion(medications, now, policy)
    if found is None:
        return None
    med, fluid = found
    serum = allowance.latest_mmol_l if allowance is not None else _latest_sodium(results, now)
    age = None if birth is None else age_on(birth, now.date())
    given = "given" if med.kind is MedicationKind.ADMINISTRATION else "ordered"
    facts = [("Fluid", f"{med.text} ({given} {when(med.at)})"),
             ("Latest counted sodium", "none" if serum is None else f"{number(serum)} mmol/L"),
             ("Weight", "not known" if weight is None else
              f"{number(round(weight[0], 1))} kg ({weight[2]}, {when(weight[1])})"),
             ("Sex", sex if sex in ("male", "female") else "not known"),
             ("Age", "not known (counted as under "
              f"{policy.prediction.elderly_age})" if age is None else f"{age} years")]
    missing = [words for words, absent in (
        ("weight not known", weight is None), ("sex not known", sex not in ("male", "female")),
        ("no counted sodium", serum is None)) if absent]
    name = f"{fluid.name}: Na {number(fluid.sodium)}" + (
        f" + K {number(fluid.potassium)}" if fluid.potassium else "") + " mmol/L"
    left = None if allowance is None else allowance.left_mmol_l
    p = None if missing or serum is None or weight is None else predict(
        serum, weight[0], sex, age, fluid, left, policy)
    if p is None:
        return InfusionPanel(med, name, facts, missing or ["body water not estimable"], None,
                             "No volume to the limit can be given without the estimate.")
    facts.append(("Total body water", f"{number(round(p.body_water_l, 1))} L "
                  f"({p.water_fraction:g} × weight)"))
    change = round(p.change_per_litre, 1)
    change_text = f"{'+' if change > 0 else ''}{number(change)} mmol/L per litre"
    return InfusionPanel(med, name, facts, [], change_text,
                         _volume(p.litres_to_limit, change, allowance, no_limit, fluid.name))


def _volume(litres: float | None, change: float, a: Allowance | None, no_limit: str | None,
            fluid: str) -> str:
    if a is None:
        return f"No volume to a limit. {no_limit or 'No limit applies now'}."
    limit = (f"the limit of {number(a.limit_mmol_l)} mmol/L in {a.window_hours:g} h "
             f"({'high' if a.high_risk else 'standard'}-risk tier"
             f"{', first day' if a.first_day else ''}; risen "
             f"{number(round(a.latest_mmol_l - a.from_mmol_l, 1))} from "
             f"{number(a.from_mmol_l)})")
    left = round(a.left_mmol_l, 1)
    if left <= 0:
        return f"No volume left: the sodium has reached {limit}."
    if change <= 0 or litres is None:
        return (f"{fluid} does not raise this sodium: no volume reaches {limit}; "
                f"{number(left)} mmol/L left.")
    ml = round(litres * 1000 / 10) * 10
    return (f"About {ml:,} mL of {fluid} would use the {number(left)} mmol/L left under "
            f"{limit}.")


def _latest_sodium(results: Sequence[Any], now: datetime) -> float | None:
    counted = [r for r in results if r.analyte == Analyte.SODIUM and r.is_current
               and not r.removed and r.flag is None and r.value_mmol_l is not None
               and r.collected_at <= now]
    return max(counted, key=lambda r: r.collected_at).value_mmol_l if counted else None
