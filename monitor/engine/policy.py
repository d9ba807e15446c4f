"""Policy profiles: every clinical number the rules use, with its source.

A profile is data (TOML). The built-in ones live in `monitor/engine/profiles/`; a hospital's
own loads from a file with `--policy path.toml`. Every field not given in a profile takes the
project default documented in docs/clinical-rules.md. All values in mmol/L or hours.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from monitor.engine.medication import DEFAULT_TEXT_PATTERNS, MedicationClass

BUILT_IN = ("default", "us-2013", "eu-2014", "salsa-2021")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierLimits(_Strict):
    """Largest allowed rise of sodium (mmol/L) over a rolling window."""

    rise_24h: float = Field(gt=0)
    rise_48h: float = Field(gt=0)
    # European 2014: a different 24 h limit applies in the first 24 h of an episode.
    first_day_rise_24h: float | None = Field(default=None, gt=0)
    # The goal of a day's correction (mmol/L per 24 h: lowest, highest), which the patient
    # chart draws as the glide slope; None where the profile's source sets no goal.
    target_24h: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _target_within_limit(self) -> TierLimits:
        if self.target_24h is not None and not (
                0 <= self.target_24h[0] <= self.target_24h[1] <= self.rise_24h):
            raise ValueError("target_24h must be [low, high] with 0 <= low <= high <= rise_24h")
        return self


# Project safety floor: a profile that sets no high-risk tier of its own (its source defines
# one threshold for everyone, as SALSA and the European guideline do) would otherwise hold an
# alcoholic cirrhotic to 10-12 mmol/L a day. Such a profile takes the 2013 US panel's
# high-risk limit instead (Verbalis et al., Am J Med 2013: 8 per 24 h; 48 h project default).
SAFETY_FLOOR = TierLimits(rise_24h=8, rise_48h=16)
SAFETY_FLOOR_SOURCE = "project safety floor (Verbalis 2013 high-risk limit)"


class Limits(_Strict):
    standard: TierLimits
    # None: the profile's source has no high-risk tier; `Policy.tier_limits` applies the floor.
    high: TierLimits | None = None


class Bands(_Strict):
    """Severity bands of hyponatremia (seed: mild 126-135, moderate 120-125, severe < 120)."""

    hyponatremia_max: float = 135
    mild_min: float = 126
    moderate_min: float = 120
    severe_below: float = 120
    hypernatremia_above: float = 145
    # Project default: the common laboratory critical value for sodium.
    hypernatremia_critical: float = 160

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
    # A two-point slope is mostly analytic error (about +-3 mmol/L per value): a projection
    # needs this many values from the nadir, or a rise beyond `projection_min_rise_mmol_l`.
    projection_min_points: int = Field(default=3, ge=2)
    projection_min_rise_mmol_l: float = Field(default=4, ge=0)
    projection_min_span_hours: float = 2
    projection_trigger_fraction: float = Field(default=0.5, gt=0, le=1)
    falling_drop: float = 6
    falling_window_hours: float = 24
    # Gap-aware windows (Woodfine & van Walraven 2020, "interpolated" method): when no value
    # lies exactly at t - W, the value there is interpolated from the samples around it, if
    # the earlier one lies within this many hours of t. 0 turns interpolation off.
    interpolate_gap_hours: float = Field(default=72, ge=0)
    # After an overcorrection, a fall that stays at or above the event's lowest value and
    # comes within this many hours of the event's latest finding is re-lowering (project
    # default): noted on the overcorrection alert, not raised as FALLING_SODIUM.
    relowering_hours: float = Field(default=48, ge=0)


class Hypernatremia(_Strict):
    """Lowering a high sodium too fast (cerebral oedema): Adrogue & Madias, NEJM 2000, about
    10 mmol/L a day in chronic hypernatremia; the limit 12 is a project default."""

    lowering_24h: float = Field(default=12, gt=0)


class Artefacts(_Strict):
    """Suspected artefacts (project defaults): a jump of at least `jump_mmol_l` from the
    previous counted value that the next one, within `confirm_hours`, brings back to within
    `return_mmol_l` of it (a drip-arm or contaminated sample, redrawn)."""

    jump_mmol_l: float = Field(default=8, gt=0)
    confirm_hours: float = Field(default=6, ge=0)
    return_mmol_l: float = Field(default=3, ge=0)


class Methods(_Strict):
    """Direct ISE (blood gas, point of care) reads about 1.9 mmol/L lower than the
    laboratory's indirect ISE (Refardt et al., EJE 2019); project default 2."""

    poc_offset_mmol_l: float = Field(default=2, ge=0)


class Glucose(_Strict):
    """Glucose-corrected sodium: a sodium paired with a glucose above `correct_above_mg_dl`
    collected within `pair_minutes` is evaluated as Na + factor x (glucose - 100) / 100 mg/dL.
    Factor 2.4: Hillier et al., Am J Med 1999 (Katz 1973's 1.6 is the documented
    alternative); the threshold 200 and the 60 min pairing are project defaults."""

    pair_minutes: float = Field(default=60, ge=0)
    correct_above_mg_dl: float = Field(default=200, gt=0)
    factor: float = Field(default=2.4, ge=0)


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
    # European guideline (Spasovski et al., Eur J Endocrinol 2014): hyponatremia is acute
    # when documented to have begun < 48 h before. A clinician's acute mark exempts from the
    # rate rules only the windows whose lowest value lies within this many hours of the
    # documented onset; later, the hyponatremia is chronic again as far as the rules go.
    acute_hours: float = Field(default=48, gt=0)


class Monitoring(_Strict):
    """Longest allowed gap between sodium results (hours) before MEASUREMENT_OVERDUE."""

    severe_hours: float = 6  # SALSA sampled every 6 h
    moderate_hours: float = 12
    mild_hours: float = 24  # seed: daily until stable
    during_rate_alert_hours: float = 4  # European checklists: every 4-6 h
    # A vaptan started (its first order or dose after `vaptan_first_hours` without one):
    # sodium every `vaptan_hours` for the first `vaptan_first_hours` (issue 16; project
    # defaults, docs/clinical-rules.md §2.5).
    vaptan_hours: float = Field(default=6, gt=0)
    vaptan_first_hours: float = Field(default=48, ge=0)


class Treatment(_Strict):
    """Medication orders and administrations (issue 16, docs/clinical-rules.md §2.5).

    HYPERTONIC_SALINE_MILD reads the latest counted sodium collected up to
    `sodium_lookback_hours` before the order (project default 24 h: the seed's daily sampling
    in the mild band); a clinician's record of severe symptoms within `symptoms_hours`
    either side of the order makes it indicated (project default 24 h). The mild band's
    lower limit comes from `bands.mild_min`. `text_patterns`: (class, regular expression)
    pairs tried in order on the lower-cased text when neither the hospital's code map nor
    RxNorm names the class (project default list, monitor.engine.medication)."""

    sodium_lookback_hours: float = Field(default=24, gt=0)
    symptoms_hours: float = Field(default=24, ge=0)
    text_patterns: tuple[tuple[str, str], ...] = DEFAULT_TEXT_PATTERNS

    @model_validator(mode="after")
    def _patterns(self) -> Treatment:
        classes = {c.value for c in MedicationClass}
        for name, pattern in self.text_patterns:
            if name not in classes:
                raise ValueError(f"text_patterns: unknown class {name!r} (one of "
                                 f"{', '.join(sorted(classes))})")
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"text_patterns: {pattern!r} is not a regular expression: "
                                 f"{error}") from None
        return self


class Fluids(_Strict):
    """AQUARESIS_WARNING (engine.fluids): urine output above `aquaresis_ml_per_h` (mL/h) for
    `aquaresis_hours`, or a urine osmolality below `aquaresis_osmolality_max` (mOsm/kg), in
    an open hyponatremia episode. 100 mL/h is the European-guideline checklists' figure,
    not verified against the guideline text: like the hours, the osmolality, the gap and
    the longest interval rated, a project default (docs/clinical-rules.md)."""

    aquaresis_ml_per_h: float = Field(default=100, gt=0)
    aquaresis_hours: float = Field(default=2, gt=0)
    aquaresis_osmolality_max: float = Field(default=100, gt=0)
    # Outputs further apart than this start a new run (minutes).
    aquaresis_gap_minutes: float = Field(default=15, ge=0)
    # A total over more hours (a day's) says nothing of the last hours: shown, not rated.
    aquaresis_max_interval_hours: float = Field(default=8, gt=0)
    recheck_hours: float = Field(default=2, gt=0)


class KnownInfusate(_Strict):
    """A fluid the prediction recognises in an order's text (regular expression,
    case-insensitive), with its sodium and potassium (mmol/L)."""

    name: str
    pattern: str
    sodium_mmol_l: float = Field(ge=0)
    potassium_mmol_l: float = Field(default=0, ge=0)


# Compositions from the solutions' strengths (3 % NaCl: 30 g/L / 58.44 g/mol = 513 mmol/L;
# 5 %: 855, as Adrogué & Madias 2000 tabulate it; 2 %: 342; 1.8 %: 308; 0.9 %: 154; 0.45 %:
# 77; 5 % dextrose: none) and Ringer's lactate's label (Na 130, K 4). Most specific first:
# "0.45%" before "0.9%"/"normal saline", "dextrose 5% in 0.45%" before plain 5 % dextrose.
# 5 % and 2 % name saline only beside sodium chloride (a "5 %" alone is as likely dextrose).
_NACL = r"(?:sodium chloride|nacl|saline)"
DEFAULT_INFUSATES: tuple[KnownInfusate, ...] = (
    KnownInfusate(name="5 % saline", sodium_mmol_l=855,
                  pattern=_NACL + r"[^%\d]{0,20}(?<![\d.])5\s*%|(?<![\d.])5\s*%\s*" + _NACL),
    KnownInfusate(name="3 % saline", pattern=r"(?<![\d.])3\s*%", sodium_mmol_l=513),
    KnownInfusate(name="2 % saline", sodium_mmol_l=342,
                  pattern=_NACL + r"[^%\d]{0,20}(?<![\d.])2\s*%|(?<![\d.])2\s*%\s*" + _NACL),
    KnownInfusate(name="1.8 % saline", pattern=r"(?<![\d.])1\.8\s*%", sodium_mmol_l=308),
    KnownInfusate(name="0.45 % saline", pattern=r"0?\.45\s*%|half[- ]normal",
                  sodium_mmol_l=77),
    KnownInfusate(name="Ringer's lactate", pattern=r"ringer|hartmann", sodium_mmol_l=130,
                  potassium_mmol_l=4),
    KnownInfusate(name="0.9 % saline", pattern=r"0?\.9\s*%|normal saline|\bNS\b",
                  sodium_mmol_l=154),
    KnownInfusate(name="5 % dextrose", pattern=r"\bD5W\b|dextrose 5\s*%|5\s*% dextrose|"
                  r"glucose 5\s*%|5\s*% glucose", sodium_mmol_l=0),
)


class Prediction(_Strict):
    """The Adrogué–Madias estimate shown beside an infusion (engine.infusion): total body
    water as a fraction of weight (Adrogué & Madias 2000), and the fluids it recognises."""

    water_fraction_male: float = Field(default=0.6, gt=0, le=1)
    water_fraction_female: float = Field(default=0.5, gt=0, le=1)
    elderly_age: int = Field(default=65, gt=0)
    water_fraction_elderly_male: float = Field(default=0.5, gt=0, le=1)
    water_fraction_elderly_female: float = Field(default=0.45, gt=0, le=1)
    infusates: tuple[KnownInfusate, ...] = DEFAULT_INFUSATES
    # Project default: an order or administration of a fluid older than this (hours) is no
    # longer the running infusion the patient page predicts for.
    infusion_hours: float = Field(default=24, gt=0)


# ICD-10 / ICD-10-CM code ranges (dot removed) mapped to risk factors.
DEFAULT_RISK_CODES: dict[str, list[str]] = {
    "liver-disease": ["K70-K77"],
    "alcohol-use-disorder": ["F10"],
    "malnutrition": ["E40-E46", "E64", "R64"],
    "hypokalemia": ["E876"],
}

# SNOMED CT concept ids mapped to risk factors, matched exactly (a SNOMED id says nothing of
# its place in the hierarchy). Diagnoses hold them as "SCT:<id>", never as ICD-10 codes.
# Each id and its preferred term is listed in docs/clinical-rules.md; an empty table turns
# SNOMED CT risk codes off.
DEFAULT_SNOMED_RISK_CODES: dict[str, list[str]] = {
    "liver-disease": ["19943007", "41309000"],  # cirrhosis of liver; alcoholic liver disease
    "alcohol-use-disorder": ["66590003"],  # alcohol dependence
    "malnutrition": ["2492009"],  # malnutrition
    "hypokalemia": ["43339004"],  # hypokalemia
}


class SocialHistory(_Strict):
    """Alcohol social-history Observations read as the alcohol-use-disorder risk factor.

    `alcohol_answers`: "system|code" answers to LOINC 11331-6 (History of alcohol use) that
    count; `alcohol_drinks_per_day_above`: a LOINC 74013-4 (Alcoholic drinks per day) value
    above it counts (None: never). Project defaults, docs/clinical-rules.md."""

    alcohol_answers: list[str] = Field(default_factory=lambda: [
        "http://snomed.info/sct|160577002",  # heavy drinker - 7-9u/day
        "http://snomed.info/sct|160578007",  # very heavy drinker - greater than 9 units/day
    ])
    alcohol_drinks_per_day_above: float | None = Field(default=4, ge=0)


class Policy(_Strict):
    name: str
    title: str = ""
    source: str
    # The short name of the source that messages cite next to a limit ("seed guideline").
    cites: str = ""
    limits: Limits
    bands: Bands = Bands()
    rates: Rates = Rates()
    lab_risk: LabRisk = LabRisk()
    hypernatremia: Hypernatremia = Hypernatremia()
    artefacts: Artefacts = Artefacts()
    methods: Methods = Methods()
    glucose: Glucose = Glucose()
    episodes: Episodes = Episodes()
    monitoring: Monitoring = Monitoring()
    fluids: Fluids = Fluids()
    prediction: Prediction = Prediction()
    risk_codes: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_RISK_CODES))
    snomed_risk_codes: dict[str, list[str]] = Field(
        default_factory=lambda: dict(DEFAULT_SNOMED_RISK_CODES))
    social_history: SocialHistory = SocialHistory()
    treatment: Treatment = Treatment()
    # Project default: factors that are conditions of the patient rather than of the stay.
    # Resolving one (an EHR resolves the admission's diagnoses at discharge) does not take
    # the risk away from results before its abatement date (docs/clinical-rules.md).
    chronic_factors: tuple[str, ...] = ("liver-disease", "alcohol-use-disorder",
                                        "malnutrition")

    def tier_limits(self, high_risk: bool) -> TierLimits:
        if not high_risk:
            return self.limits.standard
        return self.limits.high if self.limits.high is not None else _floored(
            self.limits.standard)

    def limit_source(self, high_risk: bool) -> str:
        """Who set the limit a patient of this tier is held to, for messages."""
        if high_risk and self.limits.high is None:
            return SAFETY_FLOOR_SOURCE
        return self.cites or self.title or self.name


@cache
def _floored(std: TierLimits) -> TierLimits:
    """The high-risk tier of a profile without one: its own limits, never above the floor."""
    first_day = (None if std.first_day_rise_24h is None
                 else min(std.first_day_rise_24h, SAFETY_FLOOR.rise_24h))
    return TierLimits(rise_24h=min(std.rise_24h, SAFETY_FLOOR.rise_24h),
                      rise_48h=min(std.rise_48h, SAFETY_FLOOR.rise_48h),
                      first_day_rise_24h=first_day)


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
