"""Policy profiles: the built-in ones, custom TOML files, validation errors naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.engine.policy import BUILT_IN, PolicyError, built_in, load_policy
from monitor.engine.rules import OVERCORRECTION_24H, OVERCORRECTION_48H
from tests.unit.engine.builders import at, findings, fired, timed

MINIMAL = """
name = "ward-7"
source = "Local protocol"

[limits.standard]
rise_24h = 9
rise_48h = 17

[limits.high]
rise_24h = 7
rise_48h = 13
"""


# --- the built-in profiles ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "standard", "high", "first_day", "severe_below"),
    [
        ("default", (8, 16), (6, 12), None, 120),
        ("us-2013", (12, 18), (8, 16), None, 125),
        # No high-risk tier of their own: the project safety floor (8 / 16).
        ("eu-2014", (8, 18), (8, 16), 10, 125),
        ("salsa-2021", (12, 18), (8, 16), None, 125),
    ],
)
def test_built_in_profiles_hold_the_documented_numbers(
    name: str, standard: tuple[float, float], high: tuple[float, float],
    first_day: float | None, severe_below: float,
) -> None:
    p = load_policy(name)
    assert p.name == name and p.source
    assert (p.limits.standard.rise_24h, p.limits.standard.rise_48h) == standard
    high_tier = p.tier_limits(True)
    assert (high_tier.rise_24h, high_tier.rise_48h) == high
    assert p.limits.standard.first_day_rise_24h == first_day
    # The floor caps the first-day limit too.
    assert high_tier.first_day_rise_24h == (None if first_day is None
                                            else min(first_day, high_tier.rise_24h))
    assert p.bands.severe_below == severe_below
    assert p.bands.hyponatremia_max == 135 and p.bands.hypernatremia_above == 145
    assert p.rates.critical_baseline_max == 125


def test_every_built_in_name_loads() -> None:
    assert [load_policy(n).name for n in BUILT_IN] == list(BUILT_IN)


def test_an_unknown_name_is_a_policy_error_listing_the_built_in_ones() -> None:
    with pytest.raises(PolicyError, match="default, us-2013, eu-2014, salsa-2021"):
        load_policy("nice-2020")
    with pytest.raises(PolicyError, match="unknown policy"):
        built_in("nice-2020")


@pytest.mark.parametrize("high", [False, True])
@pytest.mark.parametrize("name", list(BUILT_IN))
def test_each_profile_fires_just_above_its_own_limits(name: str, high: bool) -> None:
    tier = load_policy(name).tier_limits(high)
    codes = ["K70"] if high else []
    # After the first day of the episode, so eu-2014's first-day limit is out of play.
    day2 = [(0, 130), (30, 120)]
    at_limit = findings(timed([*day2, (54, 120 + tier.rise_24h)]), name, codes=codes)
    above = findings(timed([*day2, (54, 120.5 + tier.rise_24h)]), name, codes=codes)
    assert fired(at_limit, OVERCORRECTION_24H) == []
    assert fired(above, OVERCORRECTION_24H) == ["r3"]
    at_limit = findings(timed([(0, 120), (48, 120 + tier.rise_48h)]), name, codes=codes)
    above = findings(timed([(0, 120), (48, 120.5 + tier.rise_48h)]), name, codes=codes)
    assert fired(at_limit, OVERCORRECTION_48H) == []
    assert fired(above, OVERCORRECTION_48H) == ["r2"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("default", {("OVERCORRECTION_24H", "r2"), ("OVERCORRECTION_24H", "r3"),
                     ("OVERCORRECTION_48H", "r3")}),
        ("us-2013", {("SEVERE_HYPONATREMIA", "r1"), ("OVERCORRECTION_24H", "r2"),
                     ("OVERCORRECTION_24H", "r3"), ("OVERCORRECTION_48H", "r3")}),
        # eu-2014 and salsa-2021 hold liver disease to the safety floor (8 / 16); at 40 h
        # the 24 h window starts at 16 h, interpolated 128.2, so the rise is 10.3.
        ("eu-2014", {("SEVERE_HYPONATREMIA", "r1"), ("OVERCORRECTION_24H", "r2"),
                     ("OVERCORRECTION_24H", "r3"), ("OVERCORRECTION_48H", "r3")}),
        ("salsa-2021", {("SEVERE_HYPONATREMIA", "r1"), ("OVERCORRECTION_24H", "r2"),
                        ("OVERCORRECTION_24H", "r3"), ("OVERCORRECTION_48H", "r3")}),
    ],
)
def test_the_four_profiles_disagree_on_the_same_high_risk_series(
    name: str, expected: set[tuple[str, str]],
) -> None:
    # Liver disease; 121 -> 130 in 20 h (rise 9) -> 138.5 at 40 h (8.5 in 24 h, 17.5 in 48 h).
    found = findings(timed([(0, 121), (20, 130), (40, 138.5)]), name, codes=["K70"])
    assert {(f.rule, f.result_key) for f in found} == expected


# --- custom profiles ------------------------------------------------------------------------

def write(tmp_path: Path, text: str, name: str = "custom.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_custom_profile_loads_and_takes_defaults_for_the_rest(tmp_path: Path) -> None:
    p = load_policy(write(tmp_path, MINIMAL))
    assert p.name == "ward-7"
    assert p.limits.standard.rise_24h == 9 and p.limits.high.rise_48h == 13
    assert p.bands.severe_below == 120 and p.rates.projection_lookback_hours == 12
    assert p.lab_risk.potassium_below == 3.5 and p.episodes.gap_hours == 72
    assert p.episodes.acute_hours == 48  # Spasovski 2014: acute is documented < 48 h
    assert "liver-disease" in p.risk_codes


def test_a_profile_may_shorten_how_long_an_acute_mark_exempts(tmp_path: Path) -> None:
    p = load_policy(write(tmp_path, MINIMAL + "\n[episodes]\nacute_hours = 24\n"))
    # +9.5 from 121, drawn 30 h after the onset (above the 118 of the onset, so its 24 h
    # window starts at 121 and not at a value interpolated towards 118).
    points = timed([(0, 118), (28, 122), (30, 121), (50, 130.5)])
    assert fired(findings(points, p, acute=[at(0)]), OVERCORRECTION_24H) == ["r4"]
    assert fired(findings(points, "default", acute=[at(0)]), OVERCORRECTION_24H) == []


def test_a_custom_profile_drives_the_rules(tmp_path: Path) -> None:
    p = load_policy(write(tmp_path, MINIMAL))
    assert fired(findings(timed([(0, 120), (24, 129)]), p), OVERCORRECTION_24H) == []
    assert fired(findings(timed([(0, 120), (24, 129.5)]), p), OVERCORRECTION_24H) == ["r2"]


def test_a_profile_without_a_high_risk_tier_takes_the_safety_floor(tmp_path: Path) -> None:
    p = load_policy(write(tmp_path, MINIMAL.replace("[limits.high]\nrise_24h = 7\n"
                                                    "rise_48h = 13", "")))
    assert (p.tier_limits(True).rise_24h, p.tier_limits(True).rise_48h) == (8, 16)
    assert "safety floor" in p.limit_source(True)
    assert p.limit_source(False) == "ward-7"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("rise_24h = 9", "rise_24h = 0"), "limits.standard.rise_24h"),
        (("rise_48h = 13", "rise_48h = -1"), "limits.high.rise_48h"),
        (("rise_24h = 9", "rise_24h = \"nine\""), "limits.standard.rise_24h"),
        (('name = "ward-7"\n', ""), "name"),
        (("[limits.high]", "[limits.high]\nrise_72h = 20"), "limits.high.rise_72h"),
        (("[limits.standard]\nrise_24h = 9\nrise_48h = 17", ""), "limits.standard"),
    ],
)
def test_an_invalid_field_is_a_policy_error_naming_it(
    tmp_path: Path, change: tuple[str, str], field: str,
) -> None:
    path = write(tmp_path, MINIMAL.replace(*change))
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert f"{field}:" in str(caught.value)
    assert path in str(caught.value)


def test_bands_out_of_order_are_a_policy_error(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "\n[bands]\nsevere_below = 128\nmoderate_min = 125\n")
    with pytest.raises(PolicyError, match=r"bands: .*severe_below <= moderate_min"):
        load_policy(path)


def test_a_negative_projection_fraction_is_a_policy_error(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "\n[rates]\nprojection_trigger_fraction = 0\n")
    with pytest.raises(PolicyError, match=r"rates\.projection_trigger_fraction"):
        load_policy(path)


def test_a_file_that_is_not_toml_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(write(tmp_path, "name = \n"))


def test_a_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(str(tmp_path / "absent.toml"))


def test_a_file_that_is_not_utf8_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(MINIMAL.replace("Local protocol", "Protocole régional").encode("latin-1"))
    with pytest.raises(PolicyError, match=r"latin1\.toml is not UTF-8"):
        load_policy(str(path))


def test_a_path_that_is_not_a_toml_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"or a path to a \.toml file"):
        load_policy(write(tmp_path, MINIMAL, name="custom.txt"))
