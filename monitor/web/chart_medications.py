"""The patient chart's treatment lane: each order and administration at its time, under the
time axis, on the sodium's clock.

Orders sit on the upper row as hollow marks, administrations on the lower row filled. The
glyph says which way the class moves sodium (engine.treatment): a triangle up for the
classes that raise it, down for those that lower it, a circle for another known class, a
square for an unknown one (never guessed). A void one (cancelled, refused, not done:
engine.medication.VOID_STATUSES) is drawn faded and struck, as a corrected result is: the
rules leave it out, the clinician still sees it was ordered. Each mark holds its words in
a <title>; the class is written beside it where there is room.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from monitor.engine.medication import VOID_STATUSES, MedicationClass, MedicationKind
from monitor.engine.treatment import SODIUM_LOWERING_CLASSES, SODIUM_RAISING_CLASSES
from monitor.web.clock import when

M_H = 36  # the lane's height: two rows
ROWS = {MedicationKind.ORDER: ("ordered", 9), MedicationKind.ADMINISTRATION: ("given", 27)}
CHAR_W = 5.6  # about the width of a 10 px label's character, to keep labels apart
EFFECT_WORDS = {"raises": "raises sodium", "lowers": "lowers sodium", "other": "",
                "unknown": ""}


@dataclass(frozen=True)
class MedicationMark:
    """One order or administration as the chart draws it."""

    at: datetime
    kind: MedicationKind
    med_class: MedicationClass | None  # None: unknown
    text: str
    status: str
    dose: str = ""  # "250 mL IV", as sent

    @property
    def void(self) -> bool:
        return self.status in VOID_STATUSES

    @property
    def effect(self) -> str:
        """raises / lowers / other / unknown: which way the class moves sodium."""
        if self.med_class is None:
            return "unknown"
        if self.med_class in SODIUM_RAISING_CLASSES:
            return "raises"
        return "lowers" if self.med_class in SODIUM_LOWERING_CLASSES else "other"

    @property
    def class_words(self) -> str:
        return "unknown" if self.med_class is None else self.med_class.replace("-", " ")


def medication_mark(r: Any) -> MedicationMark:
    """A stored medication row (storage MedicationRecord) as the chart draws it."""
    dose = " ".join(v for v in (r.amount, r.unit, r.route) if v)
    return MedicationMark(r.at, MedicationKind(r.kind),
                          None if r.med_class is None else MedicationClass(r.med_class),
                          r.text, r.status, dose)


def class_list(classes: frozenset[MedicationClass]) -> str:
    """The classes in words, in the order the engine lists them (for the legend)."""
    return ", ".join(c.replace("-", " ") for c in MedicationClass if c in classes)


def treatment_lane(marks: Sequence[MedicationMark], x: Callable[[datetime], float], top: float,
                   left: float, right: float, zone: ZoneInfo) -> list[str]:
    """The lane's marks within the chart's span (`marks` already in it), oldest first."""
    out = [f'<g data-testid="treatment"><text class="axis unit" x="4" y="{top - 8}">'
           'Treatment</text>']
    for kind, (label, dy) in ROWS.items():
        out.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{top + dy}" '
                   f'y2="{top + dy}"/><text class="axis" x="{left - 6}" y="{top + dy + 4}" '
                   f'text-anchor="end">{label}</text>')
        row = sorted((m for m in marks if m.kind is kind), key=lambda m: m.at)
        for n, m in enumerate(row):
            cx = x(m.at)
            nxt = x(row[n + 1].at) if n + 1 < len(row) else right
            words = m.class_words
            # The class beside the mark only where it ends before the next mark.
            fits = cx + 8 + len(words) * CHAR_W < min(nxt - 6, right)
            out.append(_mark(m, cx, top + dy, words if fits else None, zone))
    out.append("</g>")
    return out


def _mark(m: MedicationMark, cx: float, cy: float, label: str | None, zone: ZoneInfo) -> str:
    verb = "given" if m.kind is MedicationKind.ADMINISTRATION else "ordered"
    effect = EFFECT_WORDS[m.effect]
    title = (f"{m.class_words}{f' ({effect})' if effect else ''}: {m.text or 'no text'}"
             f"{f', {m.dose}' if m.dose else ''}; {verb} {when(m.at, zone)}, {m.status}"
             + ("; not given: the rules leave it out" if m.void else ""))
    void = " void" if m.void else ""
    classes = f"med {m.kind.value} {m.effect}{void}"
    test = f'data-testid="medication-mark" data-kind="{m.kind.value}" data-effect="{m.effect}"'
    if m.effect == "raises":
        tag, shape = "path", f'd="M{cx:.1f},{cy - 6:.1f} l6,10 h-12 z"'
    elif m.effect == "lowers":
        tag, shape = "path", f'd="M{cx:.1f},{cy + 6:.1f} l6,-10 h-12 z"'
    elif m.effect == "other":
        tag, shape = "circle", f'cx="{cx:.1f}" cy="{cy:.1f}" r="5"'
    else:
        tag, shape = "rect", f'x="{cx - 4.5:.1f}" y="{cy - 4.5:.1f}" width="9" height="9"'
    parts = [f'<{tag} class="{classes}" {test} {shape}><title>{escape(title)}</title></{tag}>']
    if m.void:
        parts.append(f'<line class="strike" x1="{cx - 7:.1f}" y1="{cy:.1f}" x2="{cx + 7:.1f}" '
                     f'y2="{cy:.1f}" aria-hidden="true"/>')
    if label is not None:
        parts.append(f'<text class="med-label{void}" x="{cx + 8:.1f}" y="{cy + 4:.1f}" '
                     f'aria-hidden="true">{escape(label)}</text>')
    return "".join(parts)
