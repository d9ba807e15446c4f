"""Server-rendered SVG charts: no chart library, no script, prints as it shows.

The patient chart draws the sodium values (lab as circles, point-of-care as diamonds,
corrected or removed versions struck through, lab-flagged values as hollow suspect markers
with the lab's words and outside the line), the allowed corridor (from each window's
lowest value up to the most the policy allows over 24 h and 48 h for the patient's risk
tier), the projection line, and potassium in a strip below.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from monitor.engine.artefacts import SUSPECTED_ARTEFACT, glucose_corrected, is_spike
from monitor.engine.policy import Policy
from monitor.web.clock import when

UTC_ZONE = ZoneInfo("UTC")

W, H, PAD_L, PAD_R, PAD_T = 860, 360, 48, 16, 16
NA_H, K_TOP, K_H = 250, 285, 55


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


def corridor(points: Sequence[Point], policy: Policy, high_risk: bool,
             step: timedelta = timedelta(hours=1), start: datetime | None = None,
             ) -> list[tuple[datetime, float, float]]:
    """(time, lowest value of the window, highest value allowed) along the series, from
    `start` (default: the first counted value)."""
    counted = sorted((p for p in points if p.counted), key=lambda p: p.at)
    if not counted:
        return []
    tier = policy.tier_limits(high_risk)
    times = [p.at for p in counted]
    values = [p.value for p in counted]
    out = []
    t, end = start or times[0], times[-1] + timedelta(hours=12)
    while t <= end:
        hi = bisect_right(times, t)
        lo24, lo48 = bisect_left(times, t - timedelta(hours=24)), bisect_left(
            times, t - timedelta(hours=48))
        if hi > lo24:
            day, two = min(values[lo24:hi]), min(values[lo48:hi])
            out.append((t, day, min(day + tier.rise_24h, two + tier.rise_48h)))
        t += step
    return out


def projection(points: Sequence[Point], hours: float = 12) -> tuple[Point, datetime,
                                                                     float] | None:
    """Least-squares line over the last `hours`, carried 12 h ahead of the latest value."""
    counted = [p for p in points if p.counted]
    if len(counted) < 2:
        return None
    last = counted[-1]
    recent = [p for p in counted if p.at >= last.at - timedelta(hours=hours)]
    if len(recent) < 2:
        return None
    xs = [(p.at - last.at).total_seconds() / 3600 for p in recent]
    ys = [p.value for p in recent]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    if den == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den
    return last, last.at + timedelta(hours=12), last.value + slope * 12


def patient_chart(points: Sequence[Point], potassium: Sequence[Point], policy: Policy,
                  high_risk: bool, triggering: set[str],
                  lead_in: Sequence[Point] = (), zone: ZoneInfo = UTC_ZONE) -> str:
    """`lead_in`: counted values before the first point, which set the corridor's lower
    edge at the start of the chart (its 24 h and 48 h windows) but are not drawn."""
    if not points:
        return '<p class="empty">No sodium results in this period.</p>'
    t0 = min(p.at for p in points)
    band = corridor([*lead_in, *points], policy, high_risk, start=t0)
    proj = projection(points)
    t1 = max([p.at for p in points] + [b[0] for b in band] + ([proj[1]] if proj else []))
    span = max((t1 - t0).total_seconds(), 3600.0)
    values = [p.value for p in points] + [b[2] for b in band] + [b[1] for b in band] + \
        ([proj[2]] if proj else [])
    lo, hi = min(values) - 2, max(values) + 2

    def x(t: datetime) -> float:
        return PAD_L + (W - PAD_L - PAD_R) * (t - t0).total_seconds() / span

    def y(v: float) -> float:
        return PAD_T + NA_H * (hi - v) / (hi - lo)

    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" '
             'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">',
             '<title id="chart-title">Sodium over time with the allowed corridor</title>',
             f'<desc id="chart-desc">{len(points)} sodium results from '
             f'{when(t0, zone)} to {when(max(p.at for p in points), zone)} ({zone}); '
             f'shaded band: the allowed corridor ({policy.name}).</desc>']
    for v in range(int(lo) // 5 * 5 + 5, int(hi) + 1, 5):
        parts.append(f'<line class="grid" x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(v):.1f}" '
                     f'y2="{y(v):.1f}"/><text class="axis" x="4" y="{y(v) + 4:.1f}">{v}</text>')
    if band:
        upper = " ".join(f"{x(t):.1f},{y(top):.1f}" for t, _, top in band)
        lower = " ".join(f"{x(t):.1f},{y(low):.1f}" for t, low, _ in reversed(band))
        parts.append(f'<polygon class="corridor" data-testid="corridor" points="{upper} '
                     f'{lower}"><title>allowed corridor</title></polygon>')
        parts.append(f'<polyline class="corridor-edge" points="{upper}"/>')
    counted = [p for p in points if p.counted]
    parts.append('<polyline class="series" points="' + " ".join(
        f"{x(p.at):.1f},{y(p.value):.1f}" for p in counted) + '"/>')
    if proj:
        last, end, value = proj
        parts.append(f'<line class="projection" data-testid="projection" x1="{x(last.at):.1f}" '
                     f'y1="{y(last.value):.1f}" x2="{x(end):.1f}" y2="{y(value):.1f}">'
                     f'<title>projection: {value:.0f} mmol/L in 12 h</title></line>')
    for p in points:
        parts.append(_marker(p, x(p.at), y(p.value), p.key in triggering, zone))
    parts.append(f'<text class="axis" x="{PAD_L}" y="{K_TOP - 6}">Potassium (mmol/L)</text>')
    if potassium:
        klo, khi = min(k.value for k in potassium) - 0.3, max(k.value for k in potassium) + 0.3
        for k in potassium:
            ky = K_TOP + K_H * (khi - k.value) / max(khi - klo, 0.1)
            low = " low" if k.value < policy.lab_risk.potassium_below else ""
            parts.append(f'<circle class="potassium{low}" cx="{x(k.at):.1f}" cy="{ky:.1f}" '
                         f'r="3"><title>K {k.value:g} at {when(k.at, zone)}</title></circle>')
    parts.append(f'<text class="axis" x="{PAD_L}" y="{H - 2}">{when(t0, zone)}</text>'
                 f'<text class="axis" x="{W - 150}" y="{H - 2}">{when(t1, zone)}</text>')
    parts.append("</svg>")
    return "".join(parts)


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
    return f"{shape}<title>{escape(label)}</title></{tag}>{strike}"


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
