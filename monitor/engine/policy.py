"""Policy profiles: every clinical number the rules use, with its source.

A profile is data (TOML). The built-in ones live in `monitor/engine/profiles/`; a hospital's
own loads from a file with `--policy path.toml`. Every field not given in a profile takes the
project default documented in docs/clinical-rules.md. All values in mmol/L or hours.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

BUILT_IN = ("default", "us-2013", "eu-2014", "salsa-2021")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierLimits(_Strict):
    """Largest allowed rise of sodium (mmol/L) over a rolling window."""

    rise_24h: float = Field(gt=0)
    rise_48h: float = Field(gt=0)
    # European 2014: a different 24 h limit applies in the first 24 h of an episode.
    first_day_rise_24h: float | None = Field(default=None, gt=0)


class Limits(_Strict):
    standard: TierLimits
    high: TierLimits


class Bands(_Strict):
    """Severity bands of hyponatremia (seed: mild 126-135, moderate 120-125, severe < 120)."""

    hyponatremia_max: float = 135
    mild_min: float = 126
    moderate_min: float = 120
    severe_below: float = 120
    hypernatremia_above: float = 145

    @model_validator(mode="after")
    def _ordered(self) -> Bands:
        if not self.severe_below <= self.moderate_min <= self.mild_min <= self.hyponatremia_max:
            raise ValueError("bands must satisfy severe_below <= moderate_min <= mild_min "
                             "<= hyponatremia_max")
        return self


class Rates(_Strict):
    """Project defaults for how rises are judged (docs/clinical-rules.md)."""

    # Project default (from the engine issue): a rise counts as critical when its window's
    # lowest value is at or below this. Most reported osmotic demyelination starts below 120
    # (Tandukar et al., Kidney360 2021), so a rise from a milder baseline is a warning.
    critical_baseline_max: float = 125
    projection_lookback_hours: float = 12
    projection_min_points: int = Field(default=2, ge=2)
    projection_min_span_hours: float = 2
    projection_trigger_fraction: float = Field(default=0.5, gt=0, le=1)
    falling_drop: float = 6
    falling_window_hours: float = 24


class LabRisk(_Strict):
    """Risk factors derived from lab values (2013 US panel: Na <= 105, hypokalemia)."""

    sodium_at_or_below: float = 105
    potassium_below: float = 3.5
    potassium_lookback_hours: float = 72


class Episodes(_Strict):
    """A hyponatremia episode starts at Na <= hyponatremia_max and ends at the first two
    consecutive results >= normal_min spanning >= normal_span_hours, or a gap of gap_hours."""

    normal_min: float = 136
    normal_span_hours: float = 12
    gap_hours: float = 72


class Monitoring(_Strict):
    """Longest allowed gap between sodium results (hours) before MEASUREMENT_OVERDUE."""

    severe_hours: float = 6  # SALSA sampled every 6 h
    moderate_hours: float = 12
    mild_hours: float = 24  # seed: daily until stable
    during_rate_alert_hours: float = 4  # European checklists: every 4-6 h


# ICD-10 / ICD-10-CM code ranges (dot removed) mapped to risk factors.
DEFAULT_RISK_CODES: dict[str, list[str]] = {
    "liver-disease": ["K70-K77"],
    "alcohol-use-disorder": ["F10"],
    "malnutrition": ["E40-E46"],
    "hypokalemia": ["E876"],
}


class Policy(_Strict):
    name: str
    title: str = ""
    source: str
    limits: Limits
    bands: Bands = Bands()
    rates: Rates = Rates()
    lab_risk: LabRisk = LabRisk()
    episodes: Episodes = Episodes()
    monitoring: Monitoring = Monitoring()
    risk_codes: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_RISK_CODES))

    def tier_limits(self, high_risk: bool) -> TierLimits:
        return self.limits.high if high_risk else self.limits.standard


class PolicyError(Exception):
    """A profile that cannot be found or does not validate; the message says why."""


def _validate(data: dict[str, object], origin: str) -> Policy:
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise PolicyError(f"policy {origin} is invalid: {problems}") from None


@cache
def built_in(name: str) -> Policy:
    if name not in BUILT_IN:
        raise PolicyError(f"unknown policy {name!r}; built-in: {', '.join(BUILT_IN)}")
    text = resources.files("monitor.engine").joinpath(f"profiles/{name}.toml").read_text()
    return _validate(tomllib.loads(text), name)


def load_policy(name_or_path: str) -> Policy:
    """A built-in profile by name, or a custom one from a TOML file."""
    if name_or_path in BUILT_IN:
        return built_in(name_or_path)
    path = Path(name_or_path)
    if not path.suffix == ".toml":
        raise PolicyError(f"unknown policy {name_or_path!r}; built-in: {', '.join(BUILT_IN)}, "
                          "or a path to a .toml file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PolicyError(f"cannot read policy file {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise PolicyError(f"policy file {path} is not UTF-8 text: {error.reason} at byte "
                          f"{error.start}") from None
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"policy file {path} is not valid TOML: {error}") from None
    return _validate(data, str(path))
