"""One sentence a nurse can act on: what happened, the numbers, the limit, what to do.

The actions follow the sources in docs/clinical-rules.md (Sterns & Hix 2009; European 2014:
after overcorrection stop active treatment and let the physician consider re-lowering).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, tzinfo

from monitor.engine.fluids import AQUARESIS_WARNING, aquaresis_message
from monitor.engine.model import Diagnosis, Finding
from monitor.engine.policy import Policy
from monitor.engine.risk import (
    FACTOR_NAMES,
    POTASSIUM_LOW,
    SODIUM_LOW,
    display_code,
    factors_from_diagnoses,
    held_span,
)
from monitor.engine.rules import (
    FALLING_SODIUM,
    HYPERNATREMIA,
    HYPERNATREMIA_LOWERED_TOO_FAST,
    HYPERTONIC_SALINE_MILD,
    OVERCORRECTION_24H,
    OVERCORRECTION_48H,
    PROJECTED_OVERCORRECTION,
    SEVERE_HYPONATREMIA,
)
from monitor.engine.wording import clock
from monitor.engine.wording import number as _n

MIXED = " (point-of-care and laboratory values are mixed in this window: part of the rise " \
        "may be a method difference of 2-4 mmol/L)"

HYPERTONIC_ADVICE = ("hypertonic saline is not indicated for mild hyponatremia without severe "
                     "symptoms (seed; Spasovski 2014)")

FACTOR_WORDS = {"liver-disease": "liver disease", "alcohol-use-disorder": "alcohol use disorder",
                "malnutrition": "malnutrition", "hypokalemia": "hypokalemia"}


def _hours(h: float) -> str:
    whole, minutes = int(h), round((h - int(h)) * 60)
    if minutes == 60:
        whole, minutes = whole + 1, 0
    return f"{whole} h {minutes} min" if minutes else f"{whole} h"


def lab_factor_words(factor: str, policy: Policy) -> str:
    """A risk factor derived from lab values, in words ("sodium ≤ 105 mmol/L in this
    episode"), never the internal token."""
    if factor == SODIUM_LOW:
        return (f"sodium \u2264 {_n(policy.lab_risk.sodium_at_or_below)} mmol/L in this "
                f"episode")
    if factor == POTASSIUM_LOW:
        return f"hypokalemia (potassium below {_n(policy.lab_risk.potassium_below)} mmol/L)"
    return FACTOR_WORDS.get(factor, factor.replace("-", " "))


def risk_choices(policy: Policy) -> list[tuple[str, str]]:
    """The risk factors a physician may record under `policy` (its `risk_codes`), as
    (what to record, its description): a factor name the rules know, else the first code
    of the factor's ICD-10 list, so that what is recorded always maps back to the factor."""
    out = []
    for factor, specs in policy.risk_codes.items():
        codes = ", ".join("\u2013".join(display_code(c) for c in s.split("-"))
                          for s in specs)
        words = FACTOR_WORDS.get(factor, factor.replace("-", " "))
        value = factor if factor in FACTOR_NAMES else specs[0].split("-")[0]
        out.append((value, f"{words} (ICD-10 {codes})" if codes else words))
    return out


def diagnosis_words(code: str, policy: Policy) -> str:
    """A recorded diagnosis (an ICD-10 code or a factor name) as the wards read it: "liver
    disease (K70.3)", "hypokalemia", or "E87.1 (no risk factor under this policy)"."""
    factors = sorted(factors_from_diagnoses([code], policy))
    if not factors:
        return f"{display_code(code)} (no risk factor under this policy)"
    words = ", ".join(FACTOR_WORDS.get(f, f.replace("-", " ")) for f in factors)
    return words if code.lower() in factors else f"{words} ({display_code(code)})"


def span_words(d: Diagnosis, policy: Policy) -> str:
    """When a stated diagnosis raises the risk, for the patient page: "" when always,
    "since 2024-05-01", "until 2026-03-07", "resolved at discharge, still counts (a
    chronic condition)", "resolved: no longer counts", or why it is void."""
    if d.voided:
        return f"{d.voided}: never counts"
    span = held_span(d, policy)
    if span is None:
        return "resolved: no longer counts"
    parts = []
    if d.onset is not None:
        parts.append(f"since {d.onset.date().isoformat()}")
    if span[1] != math.inf and d.abated is not None:
        parts.append(f"until {d.abated.date().isoformat()}")
    if not d.active and span[1] == math.inf:
        when = " at discharge" if d.encounter else ""
        parts.append(f"resolved{when}, still counts (a chronic condition)")
    return "; ".join(parts)


def factor_words(f: Finding, policy: Policy, diagnoses: Iterable[str] = ()) -> list[str]:
    """Each risk factor in words, with the codes that gave it (and where from, when
    `diagnoses` maps codes to their source: "alcohol use disorder (F10.20, from ADT)")."""
    codes = sorted(diagnoses)
    sources = diagnoses if isinstance(diagnoses, Mapping) else {}
    out = []
    for factor in f.risk_factors:
        if factor == SODIUM_LOW:
            out.append(f"sodium \u2264 {_n(policy.lab_risk.sodium_at_or_below)} mmol/L in "
                       f"this episode")
            continue
        given = [c for c in codes if factors_from_diagnoses([c], policy) == {factor}]
        words = FACTOR_WORDS.get(factor, factor.replace("-", " "))
        named = [display_code(c) + (f", from {sources[c]}" if sources.get(c) else "")
                 for c in given if c.lower() != factor]
        if named:
            out.append(f"{words} ({', '.join(named)})")
        elif factor == POTASSIUM_LOW and not given:
            out.append(f"hypokalemia (potassium below {_n(policy.lab_risk.potassium_below)} "
                       f"mmol/L)")
        else:
            out.append(words)
    return out


def _tier(f: Finding, policy: Policy, diagnoses: Iterable[str]) -> str:
    if not f.risk_factors:
        return "a standard-risk patient"
    return "a high-risk patient (" + "; ".join(factor_words(f, policy, diagnoses)) + ")"


def _limit(f: Finding, policy: Policy) -> str:
    return (f"the limit of {_n(f.limit_mmol_l)} mmol/L per {_n(f.window_hours)} h "
            f"\u2014 {policy.limit_source(bool(f.risk_factors))}")


def _act(f: Finding, policy: Policy) -> str:
    """Only a critical finding asks for re-lowering; a warning asks for a recheck."""
    if f.severity == "critical":
        return "Call the physician now; stop active correction; consider re-lowering per " \
               "protocol."
    return (f"Tell the physician; recheck sodium within "
            f"{_n(policy.monitoring.during_rate_alert_hours)} h.")


REDRAW = " Implausibly fast change: redraw before acting."


def message(f: Finding, policy: Policy, diagnoses: Iterable[str] = (),
            tz: tzinfo = UTC) -> str:
    text = _message(f, policy, diagnoses, tz)
    measured = f.extra.get("measured_mmol_l")
    if measured is not None:
        text += (f" Sodium {_n(f.value_mmol_l)} is corrected for a high glucose (measured "
                 f"{_n(measured)} mmol/L).")
    return text + REDRAW if f.extra.get("unconfirmed_jump") else text


def _message(f: Finding, policy: Policy, diagnoses: Iterable[str], tz: tzinfo) -> str:
    if f.rule == AQUARESIS_WARNING:
        return aquaresis_message(f, policy, tz)
    low = f.extra.get("low_mmol_l")
    mixed = MIXED if f.mixed_methods else ""
    if f.rule in (OVERCORRECTION_24H, OVERCORRECTION_48H):
        start, at = f.extra.get("from_mmol_l", low), f.extra.get("from_at")
        span = f.extra.get("span_hours", f.window_hours or 0)
        since = f" at {clock(at, tz)}" if at is not None else ""
        rose = f.value_mmol_l - start if start is not None else f.rise_mmol_l
        interpolated = (f" ({_n(round(f.rise_mmol_l or 0, 1))} mmol/L over the "
                        f"{_n(f.window_hours)} h window, interpolated between samples)"
                        if f.extra.get("interpolated") else "")
        if f.extra.get("method_adjusted"):
            return (
                f"Sodium rose {_n(rose)} mmol/L in {_hours(span)}, from {_n(start)}{since} "
                f"(laboratory) to {_n(f.value_mmol_l)} mmol/L (point of care): "
                f"{_n(round(f.rise_mmol_l or 0, 1))} on the laboratory's scale, above "
                f"{_limit(f, policy)}, for {_tier(f, policy, diagnoses)}. A point-of-care "
                f"value may read about {_n(policy.methods.poc_offset_mmol_l)} mmol/L lower "
                f"than the laboratory: confirm with a laboratory sample. {_act(f, policy)}"
            )
        return (
            f"Sodium rose {_n(rose)} mmol/L in {_hours(span)}, from {_n(start)}{since} to "
            f"{_n(f.value_mmol_l)} mmol/L{interpolated}: above {_limit(f, policy)}, for "
            f"{_tier(f, policy, diagnoses)}{mixed}. {_act(f, policy)}"
        )
    if f.rule == PROJECTED_OVERCORRECTION:
        at, limit_at = f.extra.get("from_at"), f.extra.get("limit_at")
        recheck = f.extra.get("recheck_by")
        since = f" at {clock(at, tz)}" if at is not None else ""
        when = (f"at this rate the limit is reached about {clock(limit_at, tz)}"
                if limit_at is not None else "at this rate the limit will be crossed")
        by = f"; recheck sodium by {clock(recheck, tz)}" if recheck is not None else \
            "; recheck sodium"
        return (
            f"Sodium has risen {_n(f.rise_mmol_l)} mmol/L from {_n(low)}{since} and is rising "
            f"{f.extra.get('velocity_mmol_l_h', 0):.2f} mmol/L/h: {when} ({_limit(f, policy)}, "
            f"for {_tier(f, policy, diagnoses)}){by}{mixed}. Tell the physician and review "
            f"fluids and urine output."
        )
    if f.rule == SEVERE_HYPONATREMIA:
        return (
            f"Sodium {_n(f.value_mmol_l)} mmol/L is in the severe band (below "
            f"{_n(f.limit_mmol_l)}): call the physician now and recheck sodium every "
            f"{_n(policy.monitoring.severe_hours)} h ({policy.limit_source(False)})."
        )
    if f.rule == FALLING_SODIUM:
        return (
            f"Sodium fell {_n(-(f.rise_mmol_l or 0))} mmol/L to {_n(f.value_mmol_l)} mmol/L "
            f"within {_n(f.window_hours)} h: tell the physician and review fluids."
        )
    if f.rule == HYPERNATREMIA:
        if f.severity == "critical":
            return (f"Sodium {_n(f.value_mmol_l)} mmol/L is at or above the critical "
                    f"{_n(policy.bands.hypernatremia_critical)}: call the physician now.")
        return (
            f"Sodium {_n(f.value_mmol_l)} mmol/L is above {_n(f.limit_mmol_l)}: tell the "
            f"physician."
        )
    if f.rule == HYPERNATREMIA_LOWERED_TOO_FAST:
        return (
            f"Sodium fell {_n(-(f.rise_mmol_l or 0))} mmol/L within 24 h to "
            f"{_n(f.value_mmol_l)} mmol/L from above {_n(policy.bands.hypernatremia_above)}: "
            f"faster than {_n(f.limit_mmol_l)} mmol/L a day risks cerebral oedema. Tell the "
            f"physician; slow the correction; recheck sodium within "
            f"{_n(policy.monitoring.during_rate_alert_hours)} h."
        )
    if f.rule == HYPERTONIC_SALINE_MILD:
        given = "given" if f.extra.get("administration") else "ordered"
        at = f.extra.get("given_at")
        when = f" at {clock(at, tz)}" if at is not None else ""
        return (
            f"Hypertonic saline {given}{when} with sodium {_n(f.value_mmol_l)} mmol/L (at or "
            f"above {_n(f.limit_mmol_l)}, no severe symptoms recorded): {HYPERTONIC_ADVICE}. "
            f"Review the order with the physician; record severe symptoms on the patient "
            f"page if the patient has them."
        )
    return f"{f.rule}: sodium {_n(f.value_mmol_l)} mmol/L."
