"""Server-rendered SVG charts: no chart library, no script, prints as it shows.

The patient chart draws the sodium values (lab as circles, point-of-care as diamonds, a
ring around a result that holds an alert, corrected or removed versions struck through,
lab-flagged values as hollow suspect markers with the lab's words and outside the line),
and what the engine says of them (monitor.web.chart_facts): the allowed corridor, the
ceiling now and what is left of it, the goal band, the projection, the next sodium due;
a "now" line, ticks every 6 h of the display zone, the orders and administrations in a
lane under the time axis (monitor.web.chart_medications), potassium in a strip below when
there is any, and below that the urine output as a bar per interval (mL/h, with the
water-diuresis rate). The chart draws; it computes no clinical number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from monitor.engine.artefacts import SUSPECTED_ARTEFACT, glucose_corrected, is_spike
from monitor.engine.corridor import CorridorPoint
from monitor.engine.policy import Policy
from monitor.engine.wording import number
from monitor.web.chart_medications import M_H, MedicationMark, treatment_lane
from monitor.web.clock import hour, when

if TYPE_CHECKING:
    from monitor.web.chart_facts import ChartFacts

UTC_ZONE = ZoneInfo("UTC")

W, PAD_L, PAD_R, PAD_T = 860, 56, 16, 32
PLOT_W = W - PAD_L - PAD_R
NA_H, K_H, U_H = 250, 55, 50


@dataclass(frozen=True)
class UrineBar:
    """One urine output over its interval, at the rate engine.fluids reads (mL/h)."""

    start: datetime
    end: datetime
    rate_ml_h: float
    volume_ml: float


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float
    method: str  # lab / poc
    status: str  # final, preliminary, corrected, removed ...
    counted: bool
    source: str
    key: str
    # The lab's words when it flagged the specimen: shown as suspect, never counted (so
    # outside the line, the corridor and the projection).
    flag: str | None = None
    # Not counted because the next sample reversed it (engine.artefacts.is_spike).
    artefact: bool = False
    # The value as measured, when the chart shows it corrected for a high glucose.
    measured: float | None = None


def patient_chart(points: Sequence[Point], potassium: Sequence[Point],
                  facts: ChartFacts | None, policy: Policy, triggering: set[str],
                  zone: ZoneInfo = UTC_ZONE, urine: Sequence[UrineBar] = (),
                  medications: Sequence[MedicationMark] = ()) -> str:
    """The chart of the drawn `points` with what the engine says of them (`facts`); of the
    `medications`, those within the drawn span."""
    if not points or facts is None:
        return '<p class="empty">No sodium results in this period.</p>'
    t0, t1, now = facts.start, facts.end, facts.now
    span = max((t1 - t0).total_seconds(), 3600.0)
    base = PAD_T + NA_H  # the time axis
    meds = [m for m in medications if t0 <= m.at <= t1]
    # Each strip below the axis: 34 px for its name, then its height.
    m_top = base + 44
    k_top = m_top + M_H + 34 if meds else m_top
    u_top = k_top + K_H + 34 if potassium else k_top
    bottom = u_top + U_H if urine else k_top + K_H if potassium else \
        m_top + M_H if meds else None
    height = base + 26 if bottom is None else bottom + 10
    band = facts.corridor
    values = [p.value for p in points] + [b.low_mmol_l for b in band] + \
        [b.ceiling_mmol_l for b in band if b.ceiling_mmol_l is not None] + \
        ([facts.projection.to_mmol_l] if facts.projection else []) + \
        ([facts.allowance.ceiling_mmol_l] if facts.allowance else []) + \
        ([facts.glide.from_mmol_l] if facts.glide else [])
    lo, hi = min(values) - 2, max(values) + 2

    def x(t: datetime) -> float:
        return PAD_L + PLOT_W * (t - t0).total_seconds() / span

    def y(v: float) -> float:
        return PAD_T + NA_H * (hi - v) / (hi - lo)

    parts = [f'<svg class="chart" viewBox="0 0 {W} {height}" role="img" '
             'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">',
             '<title id="chart-title">Sodium over time with the allowed corridor</title>',
             f'<desc id="chart-desc">{len(points)} sodium results from '
             f'{when(t0, zone)} to {when(max(p.at for p in points), zone)} ({zone}); '
             f'shaded band: the allowed corridor ({policy.name}). '
             f'{escape(facts.ceiling_text)}. {escape(facts.next_due_text)}.'
             + (f' Orders and administrations under the time axis: {len(meds)}.'
                if meds else '') + '</desc>',
             f'<clipPath id="chart-plot"><rect x="{PAD_L}" y="{PAD_T}" width="{PLOT_W}" '
             f'height="{NA_H}"/></clipPath>',
             f'<text class="axis unit" x="4" y="{PAD_T - 12}">Na\u207a mmol/L</text>']
    for v in range(int(lo) // 5 * 5 + 5, int(hi) + 1, 5):
        parts.append(f'<line class="grid" x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(v):.1f}" '
                     f'y2="{y(v):.1f}"/><text class="axis" x="{PAD_L - 6}" '
                     f'y="{y(v) + 4:.1f}" text-anchor="end">{v}</text>')
    parts += _time_axis(t0, t1, x, base, zone)
    parts.append(_corridor(band, x, y))
    if facts.glide:
        parts.append(_goal(facts, x, y, t1))
    counted = [p for p in points if p.counted]
    parts.append('<polyline class="series" points="' + " ".join(
        f"{x(p.at):.1f},{y(p.value):.1f}" for p in counted) + '"/>')
    if facts.projection:
        pr = facts.projection
        parts.append(f'<line class="projection" data-testid="projection" '
                     f'x1="{x(pr.from_at):.1f}" y1="{y(pr.from_mmol_l):.1f}" '
                     f'x2="{x(pr.to_at):.1f}" y2="{y(pr.to_mmol_l):.1f}"><title>projection: '
                     f'{number(round(pr.to_mmol_l, 1))} mmol/L by {when(pr.to_at, zone)}'
                     f'</title></line>')
    parts.append(_ceiling(facts, x, y, t0, t1))
    for p in points:
        parts.append(_marker(p, x(p.at), y(p.value), p.key in triggering, zone))
    if t0 <= now <= t1:
        parts.append(f'<g data-testid="now"><line class="now" x1="{x(now):.1f}" '
                     f'x2="{x(now):.1f}" y1="{PAD_T}" y2="{base}"/><text class="now-label" '
                     f'x="{x(now):.1f}" y="{PAD_T - 3}" text-anchor="middle">now</text></g>')
    if facts.next_due is not None:
        d = x(facts.next_due)
        parts.append(f'<g data-testid="next-due"><path class="due" d="M{d:.1f},{base} '
                     f'l-6,-10 h12 z"><title>{escape(facts.next_due_text)}</title></path>'
                     f'<text class="due-label" x="{d:.1f}" y="{base - 13}" '
                     f'text-anchor="middle">next Na due</text></g>')
    if meds:
        parts += treatment_lane(meds, x, m_top, PAD_L, W - PAD_R, zone)
    if potassium:
        parts += _potassium_strip(potassium, policy, x, k_top, zone)
    if urine:
        parts += _urine_strip(urine, policy, x, u_top, t0, t1, zone)
    parts.append("</svg>")
    return "".join(parts)


def _time_axis(t0: datetime, t1: datetime, x: Callable[[datetime], float], base: float,
               zone: ZoneInfo) -> list[str]:
    """A tick every 6 h of the display zone's clock (00:00, 06:00, ...), labelled "Tue
    00:00" at midnight and on the first, "06:00" otherwise; on a long span, where 6 h
    labels would overlap, only the midnights (and where those would, every n-th)."""
    local = t0.astimezone(zone)
    wall = local.replace(hour=local.hour // 6 * 6, minute=0, second=0, microsecond=0)
    ticks = []
    while (at := wall.astimezone(UTC)) <= t1:
        if at >= t0:
            ticks.append((at, wall.hour == 0))
        wall = wall + timedelta(hours=6)  # wall-clock arithmetic: 06:00 across a DST change
    gap = x(ticks[1][0]) - x(ticks[0][0]) if len(ticks) > 1 else PLOT_W
    every_6h = gap >= 52
    # Midnights too close for a label each (a long stay): every n-th day is labelled.
    nth_day = max(1, math.ceil(52 / (gap * 4))) if gap > 0 else 1
    out = [f'<line class="axis-line" x1="{PAD_L}" x2="{W - PAD_R}" y1="{base}" '
           f'y2="{base}"/>']
    days = 0
    for n, (at, midnight) in enumerate(ticks):
        tx = x(at)
        labelled = every_6h or (midnight and days % nth_day == 0)
        days += midnight
        if gap >= 4 or labelled:  # 6 h lines only while they stay apart
            out.append(f'<line class="tick{" day" if midnight else ""}" x1="{tx:.1f}" '
                       f'x2="{tx:.1f}" y1="{PAD_T}" y2="{base + 4}"/>')
        if labelled:
            label = hour(at, zone, weekday=midnight or n == 0)
            out.append(f'<text class="axis tick-label" x="{tx:.1f}" y="{base + 16}" '
                       f'text-anchor="middle">{label}</text>')
    return out


def _corridor(band: Sequence[CorridorPoint], x: Callable[[datetime], float],
              y: Callable[[float], float]) -> str:
    """One shape for the corridor: a piece for each run of moments a limit applies."""
    runs: list[list[CorridorPoint]] = [[]]
    for b in band:
        if b.ceiling_mmol_l is None:
            runs.append([])
        else:
            runs[-1].append(b)
    area, edge = [], []
    for run in (r for r in runs if r):
        upper = [f"{x(b.at):.1f},{y(b.ceiling_mmol_l or 0):.1f}" for b in run]
        lower = [f"{x(b.at):.1f},{y(b.low_mmol_l):.1f}" for b in reversed(run)]
        area.append("M" + " L".join(upper + lower) + " Z")
        edge.append("M" + " L".join(upper))
    if not area:
        return ""
    return (f'<path class="corridor" data-testid="corridor" d="{" ".join(area)}">'
            '<title>allowed corridor</title></path>'
            f'<path class="corridor-edge" d="{" ".join(edge)}"/>')


def _goal(facts: ChartFacts, x: Callable[[datetime], float], y: Callable[[float], float],
          t1: datetime) -> str:
    """The goal band: from the episode's lowest value at the policy's goal rates."""
    g = facts.glide
    assert g is not None
    days = max((t1 - g.from_at).total_seconds(), 0) / 86400
    x0, y0, x1 = x(g.from_at), y(g.from_mmol_l), x(t1)
    slow, fast = (y(g.from_mmol_l + rate * days) for rate in g.per_24h)
    return (f'<g class="goal" data-testid="goal" clip-path="url(#chart-plot)">'
            f'<path class="goal-band" d="M{x0:.1f},{y0:.1f} L{x1:.1f},{fast:.1f} '
            f'L{x1:.1f},{slow:.1f} Z"/><line class="goal-line" x1="{x0:.1f}" y1="{y0:.1f}" '
            f'x2="{x1:.1f}" y2="{slow:.1f}"/><line class="goal-line" x1="{x0:.1f}" '
            f'y1="{y0:.1f}" x2="{x1:.1f}" y2="{fast:.1f}"/></g>'
            # The nadir may lie before the drawn span: the label stays on the chart.
            f'<text class="goal-label" x="{max(x0, PAD_L) + 8:.1f}" y="{y0 + 16:.1f}">'
            f'{escape(facts.goal_label or "")}</text>')


def _ceiling(facts: ChartFacts, x: Callable[[datetime], float],
             y: Callable[[float], float], t0: datetime, t1: datetime) -> str:
    """The ceiling now, as a line from now until it changes, and its words."""
    text = escape(facts.ceiling_text)
    a = facts.allowance
    if a is None:
        return (f'<text class="ceiling-label" data-testid="ceiling-label" x="{W - PAD_R}" '
                f'y="{PAD_T + 12}" text-anchor="end">{text}</text>')
    start = min(max(facts.now, t0), t1)
    end = min(max(a.until or t1, start), t1)
    cy = y(a.ceiling_mmol_l)
    return (f'<line class="ceiling" data-testid="ceiling" x1="{x(start):.1f}" '
            f'x2="{max(x(end), x(start) + 12):.1f}" y1="{cy:.1f}" y2="{cy:.1f}"/>'
            f'<text class="ceiling-label" data-testid="ceiling-label" x="{W - PAD_R}" '
            f'y="{cy - 5:.1f}" text-anchor="end">{text}</text>')


def _potassium_strip(potassium: Sequence[Point], policy: Policy,
                     x: Callable[[datetime], float], top: float, zone: ZoneInfo) -> list[str]:
    klo, khi = min(k.value for k in potassium) - 0.3, max(k.value for k in potassium) + 0.3

    def ky(v: float) -> float:
        return top + K_H * (khi - v) / max(khi - klo, 0.1)

    out = [f'<g data-testid="potassium"><text class="axis unit" x="4" y="{top - 8}">'
           f'K\u207a mmol/L</text>']
    for v in (khi, klo):
        out.append(f'<text class="axis" x="{PAD_L - 6}" y="{ky(v) + 4:.1f}" '
                   f'text-anchor="end">{v:.1f}</text><line class="grid" x1="{PAD_L}" '
                   f'x2="{W - PAD_R}" y1="{ky(v):.1f}" y2="{ky(v):.1f}"/>')
    for k in potassium:
        low = " low" if k.value < policy.lab_risk.potassium_below else ""
        out.append(f'<circle class="potassium{low}" cx="{x(k.at):.1f}" cy="{ky(k.value):.1f}" '
                   f'r="3"><title>K\u207a {k.value:g} mmol/L at {when(k.at, zone)}</title>'
                   f'</circle>')
    out.append("</g>")
    return out


def _urine_strip(urine: Sequence[UrineBar], policy: Policy, x: Callable[[datetime], float],
                 top: float, t0: datetime, t1: datetime, zone: ZoneInfo) -> list[str]:
    """A bar per urine output interval, as high as its rate; bars above the policy's
    water-diuresis rate are marked, and that rate is drawn as a line."""
    limit = policy.fluids.aquaresis_ml_per_h
    most = max([u.rate_ml_h for u in urine] + [limit * 1.5])

    def uy(v: float) -> float:
        return top + U_H * (1 - v / most)

    out = [f'<g data-testid="urine-output"><text class="axis unit" x="4" y="{top - 8}">'
           f'Urine mL/h</text>',
           f'<line class="grid diuresis" x1="{PAD_L}" x2="{W - PAD_R}" y1="{uy(limit):.1f}" '
           f'y2="{uy(limit):.1f}"/><text class="axis" x="{PAD_L - 6}" '
           f'y="{uy(limit) + 4:.1f}" text-anchor="end">{number(limit)}</text>']
    for u in urine:
        if u.end < t0 or u.start > t1:
            continue
        left, right = x(max(u.start, t0)), x(min(u.end, t1))
        high = " high" if u.rate_ml_h > limit else ""
        out.append(f'<rect class="urine{high}" data-testid="urine-bar" x="{left:.1f}" '
                   f'y="{uy(u.rate_ml_h):.1f}" width="{max(right - left - 1, 1):.1f}" '
                   f'height="{top + U_H - uy(u.rate_ml_h):.1f}"><title>urine output '
                   f'{number(round(u.rate_ml_h))} mL/h ({number(u.volume_ml)} mL from '
                   f'{when(u.start, zone)} to {when(u.end, zone)})</title></rect>')
    out.append("</g>")
    return out


def _marker(p: Point, cx: float, cy: float, trigger: bool, zone: ZoneInfo) -> str:
    method = "point-of-care" if p.method == "poc" else "laboratory"
    label = (f"{p.value:g} mmol/L at {when(p.at, zone)}, {method}, {p.status}, "
             f"from {p.source}" + (" (triggered an alert)" if trigger else "")
             + (f"; suspect, not counted: lab flag \u201c{p.flag}\u201d" if p.flag else "")
             + (f"; suspect, not counted: {SUSPECTED_ARTEFACT}" if p.artefact else "")
             + (f"; corrected for a high glucose (measured {p.measured:g} mmol/L)"
                if p.measured is not None else ""))
    suspect = bool(p.flag) or p.artefact
    state = "suspect" if suspect else "counted" if p.counted else "superseded"
    classes = f"na {p.method} {state}" + (" trigger" if trigger else "")
    test = ' data-testid="trigger"' if trigger else ' data-testid="suspect"' if suspect else \
        ' data-testid="corrected"' if p.measured is not None else ""
    if p.method == "poc":
        shape = (f'<rect class="{classes}"{test} x="{cx - 4:.1f}" y="{cy - 4:.1f}" width="8" '
                 f'height="8" transform="rotate(45 {cx:.1f} {cy:.1f})">')
    else:
        shape = f'<circle class="{classes}"{test} cx="{cx:.1f}" cy="{cy:.1f}" r="5">'
    strike = "" if p.counted or suspect else (
        f'<line class="strike" x1="{cx - 7:.1f}" y1="{cy:.1f}" x2="{cx + 7:.1f}" '
        f'y2="{cy:.1f}"/>')
    if suspect:  # a "!" beside it: distinct from a superseded value without colour
        strike = (f'<text class="suspect-mark" x="{cx + 7:.1f}" y="{cy - 6:.1f}" '
                  f'aria-hidden="true">!</text>')
    tag = "rect" if p.method == "poc" else "circle"
    ring = (f'<circle class="ring" cx="{cx:.1f}" cy="{cy:.1f}" r="9" aria-hidden="true"/>'
            if trigger else "")
    return f"{ring}{shape}<title>{escape(label)}</title></{tag}>{strike}"


def judged(sodium: Sequence[Point], glucose: Sequence[Point], policy: Policy) -> list[Point]:
    """The sodium points as the rules count them: a spike the next sample reversed is a
    suspect, not counted; a value paired with a high glucose is drawn corrected, with the
    measured value in its label (the same engine functions the ledger uses)."""
    counted = sorted((p for p in sodium if p.counted), key=lambda p: p.at)
    times = [p.at.timestamp() for p in counted]
    values = [p.value for p in counted]
    spikes = {id(counted[j]) for j in range(len(counted)) if is_spike(times, values, j, policy)}
    g = sorted((p for p in glucose if p.counted), key=lambda p: p.at)
    g_times, g_values = [p.at.timestamp() for p in g], [p.value for p in g]
    out = []
    for p in sodium:
        if id(p) in spikes:
            out.append(replace(p, counted=False, artefact=True))
            continue
        fixed = glucose_corrected(p.value, p.at.timestamp(), g_times, g_values, policy) \
            if p.counted and g else None
        out.append(p if fixed is None else replace(p, value=fixed, measured=p.value))
    return out


def sparkline(values: Sequence[float], width: int = 120, height: int = 28) -> str:
    if len(values) < 2:
        return ""
    lo, hi = min(values), max(values)
    rng = max(hi - lo, 1.0)
    step = width / (len(values) - 1)
    pts = " ".join(f"{i * step:.1f},{height - 2 - (v - lo) * (height - 4) / rng:.1f}"
                   for i, v in enumerate(values))
    return (f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" aria-hidden="true"><polyline points="{pts}"/></svg>')
