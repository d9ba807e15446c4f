"""Jinja2 templates shipped inside the package, with the small filters the pages use."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

RULE_NAMES = {
    "OVERCORRECTION_24H": "Too fast: 24 h",
    "OVERCORRECTION_48H": "Too fast: 48 h",
    "PROJECTED_OVERCORRECTION": "Projected too fast",
    "SEVERE_HYPONATREMIA": "Severe hyponatremia",
    "FALLING_SODIUM": "Falling sodium",
    "HYPERNATREMIA": "Hypernatremia",
    "HYPERNATREMIA_LOWERED_TOO_FAST": "Hypernatremia lowered too fast",
    "MEASUREMENT_OVERDUE": "Sodium overdue",
}


def _num(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


def _age(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // 1440} d"


def _since(moment: datetime | None, now: datetime) -> str:
    return "—" if moment is None else _age(int((now - moment).total_seconds() // 60))


templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters.update(num=_num, age=_age, since=_since,
                             rule_name=lambda r: RULE_NAMES.get(r, r))
