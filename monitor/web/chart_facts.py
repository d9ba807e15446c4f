"""What the engine says of a patient's chart at `now`, in the words the page and the chart
both show: the corridor, the ceiling and what is left of it, the projection, the day's
goal and when the next sodium is due.

No clinical number is computed here: they come from monitor.engine.corridor (the rules' own
bounds, so eu-2014's first-day limit and acute marks move the chart as they move the alerts)
and monitor.engine.sampling (the interval the overdue watch applies). This module turns the
page's points into the engine's PatientData and the engine's answers into words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitor.engine.corridor import (
    NO_RECENT_VALUE,
    SPARED_ACUTE,
    Allowance,
    CorridorPoint,
    Glide,
    PatientCorridor,
    Projection,
)
from monitor.engine.fluids import output_rate
from monitor.engine.limits import WINDOWS_HOURS
from monitor.engine.model import Analyte, Diagnosis, Measurement, Method
from monitor.engine.policy import Policy
from monitor.engine.rules import PatientData
from monitor.engine.sampling import next_due
from monitor.engine.treatment import SODIUM_LOWERING_CLASSES, SODIUM_RAISING_CLASSES
from monitor.engine.wording import number
from monitor.web.chart_medications import class_list, medication_mark
from monitor.web.charts import Point, UrineBar, judged, patient_chart
from monitor.web.clock import hour, same_day, when


@dataclass(frozen=True)
class ChartFacts:
    start: datetime  # the span the chart draws
    end: datetime
    now: datetime
    corridor: list[CorridorPoint]
    allowance: Allowance | None
    ceiling_text: str  # "≤ 124 until 07:43 — 2 mmol/L left", or why no limit applies
    projection: Projection | None
    glide: Glide | None
    goal_label: str | None  # "goal 4–6 per 24 h"
    goal_text: str
    next_due: datetime | None
    next_due_text: str
    high_risk: bool


def patient_data(sodium: Iterable[Point], potassium: Iterable[Point],
                 diagnoses: Sequence[Diagnosis], acute_onsets: Iterable[datetime]
                 ) -> PatientData:
    """The engine's view of the points the page holds: the counted sodium (as `judged`
    corrected them) and potassium, the diagnoses and the acute marks' onsets."""

    def measured(points: Iterable[Point], analyte: Analyte) -> list[Measurement]:
        return sorted((Measurement(p.key, analyte, p.value, p.at, Method(p.method),
                                   p.measured) for p in points if p.counted),
                      key=lambda m: (m.collected_at, m.result_key))

    return PatientData(measured(sodium, Analyte.SODIUM), measured(potassium, Analyte.POTASSIUM),
                       diagnoses, tuple(sorted(acute_onsets)))


def chart_facts(c: PatientCorridor, policy: Policy, drawn: Sequence[Point],
                counted: Sequence[Point], now: datetime, rate_alert_open: bool,
                discharged: bool, zone: ZoneInfo, vaptans: Sequence[datetime] = (),
                treated: Sequence[datetime] = ()) -> ChartFacts | None:
    """The facts for a chart of the `drawn` points (None without any); `counted`: every
    counted sodium the engine was given, lead-in included; `vaptans`: when vaptans were
    ordered or given (engine.sampling); `treated`: when the window's medications were, so
    that the span reaches one after the last sodium (up to `now`, never a planned one)."""
    if not drawn:
        return None
    start, last = min(p.at for p in drawn), max(p.at for p in drawn)
    proj = c.projection()
    latest = max((p for p in counted if p.counted and p.at <= now), key=lambda p: p.at,
                 default=None)
    due = None
    if latest is not None and not discharged and c.in_episode(now):
        due = next_due(policy, latest.at, latest.value, rate_alert_open, vaptans)
    end = max([last] + ([proj.to_at] if proj else []) + ([due] if due else [])
              + [t for t in treated if start <= t <= now])
    allowance = c.allowance(now)
    glide = c.glide(now)
    low, high = glide.per_24h if glide else (0.0, 0.0)
    return ChartFacts(
        start=start, end=end, now=now, corridor=c.along(start, end), allowance=allowance,
        ceiling_text=ceiling_text(c, allowance, now, zone), projection=proj, glide=glide,
        goal_label=f"goal {number(low)}–{number(high)} per 24 h" if glide else None,
        goal_text=(f"Goal {number(low)}–{number(high)} mmol/L per 24 h from the episode's "
                   f"lowest value, {number(glide.from_mmol_l)} on "
                   f"{when(glide.from_at, zone, now)}") if glide else
        f"No goal: {policy.name} sets none for this patient now",
        next_due=due, next_due_text=_due_text(due, latest, discharged, now, zone),
        high_risk=c.high_risk(now))


def ceiling_text(c: PatientCorridor, a: Allowance | None, now: datetime,
                  zone: ZoneInfo) -> str:
    if a is None:
        why = c.unlimited(now)
        if why == NO_RECENT_VALUE:
            return f"No limit applies now: no sodium in the last {max(WINDOWS_HOURS):g} h"
        if why == SPARED_ACUTE:
            return "No limit applies now: the rise is spared by the acute mark"
        return "No limit applies now: the windows start above the hyponatremia range"
    until = "now" if a.until is None else \
        f"until {hour(a.until, zone, weekday=not same_day(a.until, now, zone))}"
    left = round(a.left_mmol_l, 1)
    rest = f"{number(left)} mmol/L left" if left >= 0 else f"{number(-left)} mmol/L over it"
    return f"≤ {number(round(a.ceiling_mmol_l, 1))} {until} — {rest}"


def _due_text(due: datetime | None, latest: Point | None, discharged: bool, now: datetime,
              zone: ZoneInfo) -> str:
    if due is not None:
        return f"Next sodium due {when(due, zone, now)}" + (" — overdue" if due < now else "")
    if latest is None:
        return "No sodium yet"
    return "No sodium due: " + ("discharged" if discharged else "no open hyponatremia episode")


def point(r: Any) -> Point:
    """A stored result row as the chart draws it."""
    shown = bool(r.is_current and not r.removed)
    flag = r.flag if shown else None  # a flag on a superseded version no longer applies
    return Point(at=r.collected_at, value=r.value_mmol_l, method=r.method, status=r.status,
                 counted=shown and flag is None, source=r.source_feed,
                 key=r.result_key if r.method != Method.URINE else "", flag=flag)


def urine_bars(results: Sequence[Any]) -> list[UrineBar]:
    """The page's current urine outputs that have an interval, at their rate."""
    bars = []
    for r in results:
        if r.analyte != Analyte.URINE_OUTPUT or not r.is_current or r.removed or \
                r.flag is not None or r.value_mmol_l is None:
            continue
        rate = output_rate(r.value_mmol_l, r.started_at, r.collected_at)
        if rate is not None:
            bars.append(UrineBar(r.started_at, r.collected_at, rate, r.value_mmol_l))
    return bars


def patient_corridor(result_rows: Sequence[Any], diagnoses: Sequence[Diagnosis],
                     acute_onsets: Iterable[datetime], policy: Policy
                     ) -> tuple[PatientCorridor, list[Point], list[Point]]:
    """The engine's corridor of these result rows, with their sodium points (as the rules
    judge them) and counted potassium points: what the chart draws and a CDS Hooks card
    tells (monitor.web.cds_cards)."""
    rows = [r for r in result_rows if r.value_mmol_l is not None]
    glucose = [point(r) for r in rows if r.analyte == Analyte.GLUCOSE]
    # Judged together, so a spike or a glucose at the window's edge counts as the rules see it.
    sodium = judged([point(r) for r in rows if r.analyte == Analyte.SODIUM], glucose, policy)
    potassium = [point(r) for r in rows if r.analyte == Analyte.POTASSIUM and r.is_current
                 and not r.removed and r.flag is None]
    return (PatientCorridor(patient_data(sodium, potassium, diagnoses, acute_onsets), policy),
            sodium, potassium)


def chart_section(results: Sequence[Any], lead_in: Sequence[Any], diagnoses: Sequence[Diagnosis],
                  acute_onsets: Iterable[datetime], rate_alert_open: bool, discharged: bool,
                  triggering: set[str], policy: Policy, now: datetime, zone: ZoneInfo,
                  vaptans: Sequence[datetime] = (), medications: Sequence[Any] = ()
                  ) -> dict[str, Any]:
    """The patient page's chart section: the SVG, its facts and the tier it is drawn for,
    from the page's result rows and the `lead_in` rows before them (read, not drawn), with
    the window's medication rows in its treatment lane (and their legend when any is drawn)."""
    drawn_from = min((r.collected_at for r in results), default=now)
    corridor, sodium, potassium = patient_corridor([*lead_in, *results], diagnoses,
                                                   acute_onsets, policy)
    drawn = [p for p in sodium if p.at >= drawn_from]
    marks = [medication_mark(m) for m in medications]
    facts = chart_facts(corridor, policy, drawn, sodium, now, rate_alert_open, discharged,
                        zone, vaptans, [m.at for m in marks])
    high = corridor.high_risk(now)
    shown_k = [k for k in potassium if k.at >= drawn_from]
    drawn_marks = [m for m in marks if facts and facts.start <= m.at <= facts.end]
    return {"chart": patient_chart(drawn, shown_k, facts, policy, triggering, zone,
                                   urine_bars(results), drawn_marks),
            "chart_facts": facts, "chart_tier": "high" if high else "standard",
            "chart_limits": policy.tier_limits(high),
            "chart_treatment": {"raising": class_list(SODIUM_RAISING_CLASSES),
                                "lowering": class_list(SODIUM_LOWERING_CLASSES)}
            if drawn_marks else None}
