"""One sentence a nurse can act on: what happened, the numbers, the limit, what to do.

The actions follow the sources in docs/clinical-rules.md (Sterns & Hix 2009; European 2014:
after overcorrection stop active treatment and let the physician consider re-lowering).
"""

from __future__ import annotations

from monitor.engine.model import Finding
from monitor.engine.policy import Policy
from monitor.engine.rules import (
    FALLING_SODIUM,
    HYPERNATREMIA,
    OVERCORRECTION_24H,
    OVERCORRECTION_48H,
    PROJECTED_OVERCORRECTION,
    SEVERE_HYPONATREMIA,
)

MIXED = " (point-of-care and laboratory values are mixed in this window: part of the rise " \
        "may be a method difference of 2-4 mmol/L)"


def _n(x: float | None) -> str:
    if x is None:
        return "?"
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


def _tier(f: Finding) -> str:
    if not f.risk_factors:
        return "standard-risk"
    return "high-risk (" + ", ".join(f.risk_factors) + ")"


def message(f: Finding, policy: Policy) -> str:
    low = f.extra.get("low_mmol_l")
    mixed = MIXED if f.mixed_methods else ""
    if f.rule in (OVERCORRECTION_24H, OVERCORRECTION_48H):
        return (
            f"Sodium rose {_n(f.rise_mmol_l)} mmol/L in {_n(f.window_hours)} h "
            f"({_n(low)} to {_n(f.value_mmol_l)} mmol/L), above the {_n(f.limit_mmol_l)} mmol/L "
            f"limit for a {_tier(f)} patient{mixed}: stop active sodium correction and call "
            f"the physician now to consider re-lowering (policy {policy.name})."
        )
    if f.rule == PROJECTED_OVERCORRECTION:
        return (
            f"Sodium has risen {_n(f.rise_mmol_l)} mmol/L from {_n(low)} and is rising "
            f"{f.extra.get('velocity_mmol_l_h', 0):.2f} mmol/L/h, a projected rise of "
            f"{_n(f.extra.get('projected_rise_mmol_l'))} mmol/L within 24 h of the low value, "
            f"above the {_n(f.limit_mmol_l)} mmol/L limit for a {_tier(f)} patient{mixed}: "
            f"tell the physician, review fluids and urine output, and recheck sodium "
            f"(policy {policy.name})."
        )
    if f.rule == SEVERE_HYPONATREMIA:
        return (
            f"Sodium {_n(f.value_mmol_l)} mmol/L is in the severe band (below "
            f"{_n(f.limit_mmol_l)}): call the physician now and recheck sodium every "
            f"{_n(policy.monitoring.severe_hours)} h (policy {policy.name})."
        )
    if f.rule == FALLING_SODIUM:
        return (
            f"Sodium fell {_n(-(f.rise_mmol_l or 0))} mmol/L to {_n(f.value_mmol_l)} mmol/L "
            f"within {_n(f.window_hours)} h: tell the physician and review fluids "
            f"(policy {policy.name})."
        )
    if f.rule == HYPERNATREMIA:
        return (
            f"Sodium {_n(f.value_mmol_l)} mmol/L is above {_n(f.limit_mmol_l)}: tell the "
            f"physician (policy {policy.name})."
        )
    return f"{f.rule}: sodium {_n(f.value_mmol_l)} mmol/L (policy {policy.name})."
