"""Jinja2 templates shipped inside the package, with the small filters the pages use."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from monitor.alerts.lifecycle import SHELVE_REASONS
from monitor.engine.fluids import fluid_numbers, output_rate
from monitor.engine.messages import lab_factor_words
from monitor.engine.wording import number
from monitor.web import clock

RULE_NAMES = {
    "OVERCORRECTION_24H": "Too fast: 24 h",
    "OVERCORRECTION_48H": "Too fast: 48 h",
    "PROJECTED_OVERCORRECTION": "Projected too fast",
    "SEVERE_HYPONATREMIA": "Severe hyponatremia",
    "FALLING_SODIUM": "Falling sodium",
    "HYPERNATREMIA": "Hypernatremia",
    "HYPERNATREMIA_LOWERED_TOO_FAST": "Hypernatremia lowered too fast",
    "HYPERTONIC_SALINE_MILD": "Hypertonic saline, mild",
    "MEASUREMENT_OVERDUE": "Sodium overdue",
    "AQUARESIS_WARNING": "Water diuresis",
}


def _num(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


def _signed(x: float | None) -> str:
    """A change with its sign: "+6", "−2" (the minus sign, not a hyphen), "0"."""
    if x is None:
        return "—"
    r = round(x, 1)
    if r == 0:
        return "0"
    return ("+" if r > 0 else "\u2212") + _num(abs(r))


def _age(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // 1440} d"


def _since(moment: datetime | None, now: datetime) -> str:
    return "—" if moment is None else _age(int((now - moment).total_seconds() // 60))


def display_zone(context: Context) -> ZoneInfo:
    """The zone the pages show times in: the app's SODIUM_DISPLAY_TIMEZONE."""
    request = context.get("request")
    runtime = getattr(getattr(getattr(request, "app", None), "state", None), "runtime", None)
    return runtime.settings.display_zone if runtime is not None else ZoneInfo("UTC")


@pass_context
def _when(context: Context, moment: datetime | None) -> str:
    return clock.when(moment, display_zone(context), datetime.now(UTC))


@pass_context
def _day(context: Context, moment: datetime | None) -> str:
    return clock.day(moment, display_zone(context))


@pass_context
def _years(context: Context, birth: date | None) -> str:
    age = clock.years(birth, datetime.now(UTC).astimezone(display_zone(context)).date())
    return "" if age is None else f"{age} y"


# Administrative sex as stored (FHIR words) -> the letter a list shows.
SEX_LETTERS = {"female": "F", "male": "M", "other": "X", "unknown": "U"}


def _urine_rate(r: Any) -> str:
    """A urine output row's rate and interval ("260 mL/h over 1 h"); "" without one."""
    rate = None if r.value_mmol_l is None else output_rate(r.value_mmol_l, r.started_at,
                                                           r.collected_at)
    if rate is None:
        return ""
    hours = (r.collected_at - r.started_at).total_seconds() / 3600
    return f"{number(round(rate))} mL/h over {number(round(hours, 1))} h"


@pass_context
def _zone_name(context: Context) -> str:
    return str(display_zone(context))


templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters.update(num=_num, signed=_signed, age=_age, since=_since, when=_when,
                             day=_day,
                             years=_years, born=clock.born,
                             sex_letter=lambda x: SEX_LETTERS.get(x or "", ""),
                             rule_name=lambda r: RULE_NAMES.get(r, r),
                             factor_words=lab_factor_words, urine_rate=_urine_rate)
templates.env.globals.update(zone_name=_zone_name, shelve_reasons=SHELVE_REASONS,
                             fluid_numbers=fluid_numbers)
