"""Where a patient stands, as the census shows it, is the rules' own reading: the tier the
alert uses (a low potassium makes it high), the signed 24 h change and the rise from the
24 h low that OVERCORRECTION_24H holds to its limit."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.engine.model import Measurement
from monitor.engine.policy import built_in
from monitor.engine.rules import OVERCORRECTION_24H, Columns, context
from monitor.engine.standing import Standing, latest_standing
from tests.unit.engine.builders import coded, findings, k, na, only


def _standing(sodium: Sequence[Measurement], potassium: Sequence[Measurement] = (),
              codes: frozenset[str] = frozenset()) -> Standing:
    return latest_standing(context(Columns.of(sodium), Columns.of(potassium), coded(codes), (),
                                   built_in("default")))


def test_a_low_potassium_puts_the_patient_in_the_tier_the_alert_uses() -> None:
    sodium, potassium = [na(0, 120), na(19, 127)], [k(18, 3.0)]
    s = _standing(sodium, potassium)
    assert s.high_risk and s.risk_factors == ("hypokalemia",)
    assert only(findings(sodium, potassium=potassium), OVERCORRECTION_24H).risk_tier == "high"
    assert not _standing(sodium).high_risk


def test_the_change_is_signed_and_the_rise_is_measured_from_the_low() -> None:
    s = _standing([na(0, 130), na(6, 126), na(12, 128)])
    assert (s.change_24h_mmol_l, s.rise_24h_mmol_l) == (-2, 2)
    alone = _standing([na(0, 130)])
    assert (alone.change_24h_mmol_l, alone.rise_24h_mmol_l) == (None, 0)
    assert _standing([], codes=frozenset({"K70"})).high_risk  # diagnoses before any value
