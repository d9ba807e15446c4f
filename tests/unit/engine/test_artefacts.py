"""Artefacts and confounders in the engine: spikes the next sample reverses, method-aware
rises, hypernatremia's critical value and its lowering too fast."""

from __future__ import annotations

from monitor.engine.ledger import PatientLedger
from monitor.engine.messages import message
from monitor.engine.model import Analyte, Method, ResultStatus
from monitor.engine.policy import built_in
from monitor.engine.reconcile import ACTIVE, WITHDRAWN
from monitor.engine.rules import (
    FALLING_SODIUM,
    HYPERNATREMIA,
    HYPERNATREMIA_LOWERED_TOO_FAST,
    OVERCORRECTION_24H,
)
from tests.unit.engine.builders import at, findings, fired, ids, na, only, timed

DEFAULT = built_in("default")


def fed(points: list[tuple[float, float]], order: list[int] | None = None) -> PatientLedger:
    ledger, new_id = PatientLedger(DEFAULT), ids()
    for seq, n in enumerate(order or range(len(points)), start=1):
        hours, value = points[n]
        ledger.add_result(f"r{n}", Analyte.SODIUM, Method.LAB, ResultStatus.FINAL, value,
                          at(hours), seq, False, new_id)
    return ledger


def active(ledger: PatientLedger) -> set[str]:
    return {a.rule for a in ledger.alerts if a.state == ACTIVE}


# --- spikes -----------------------------------------------------------------------------

V2_04 = [(0, 121), (6, 122), (7, 136), (8, 121)]


def test_a_spike_the_next_sample_reverses_is_withdrawn_as_a_suspected_artefact() -> None:
    ledger = fed(V2_04[:3])
    assert OVERCORRECTION_24H in active(ledger)  # raised on the spike, before the redraw
    ledger = fed(V2_04)
    assert not active(ledger) & {OVERCORRECTION_24H, FALLING_SODIUM}
    gone = [a for a in ledger.alerts if a.rule == OVERCORRECTION_24H]
    assert [a.state for a in gone] == [WITHDRAWN]
    assert gone[0].withdrawn_reason is not None
    assert gone[0].withdrawn_reason.startswith("not confirmed by the next sample: suspected "
                                               "artefact (136 at 15:00 on 4 Mar)")
    assert ledger.suspects == {"r2"}


def test_a_spike_is_an_artefact_whatever_the_arrival_order() -> None:
    for order in ([3, 2, 1, 0], [0, 3, 1, 2], [2, 0, 3, 1]):
        ledger = fed(V2_04, order)
        assert ledger.suspects == {"r2"}
        assert not active(ledger) & {OVERCORRECTION_24H, FALLING_SODIUM}


def test_a_real_fast_rise_with_no_reversal_is_never_withdrawn() -> None:
    ledger = fed([(0, 121), (6, 122), (7, 136), (8, 135)])
    assert OVERCORRECTION_24H in active(ledger) and not ledger.suspects


def test_a_reversal_after_the_confirmation_window_keeps_the_spike_counted() -> None:
    # The redraw comes 7 h after the jump (confirm_hours 6): the jump stays a result.
    ledger = fed([(0, 121), (6, 122), (7, 136), (14, 121)])
    assert not ledger.suspects
    assert OVERCORRECTION_24H in active(ledger)


def test_before_a_next_value_a_finding_on_a_jump_says_to_redraw() -> None:
    f = only(findings(timed([(0, 121), (6, 122), (7, 136)])), OVERCORRECTION_24H)
    assert message(f, DEFAULT).endswith("Implausibly fast change: redraw before acting.")
    confirmed = findings(timed([(0, 121), (6, 122), (7, 136), (8, 135)]))
    assert all(not x.extra.get("unconfirmed_jump") for x in confirmed
               if x.result_key == "r4")


def test_removing_the_redraw_restores_the_spike() -> None:
    ledger = fed(V2_04)
    ledger.add_result("r3", Analyte.SODIUM, Method.LAB, ResultStatus.REMOVED, None, at(8), 9,
                      False, ids())
    assert not ledger.suspects


# --- methods ----------------------------------------------------------------------------

def test_lab_then_point_of_care_is_compared_on_one_scale() -> None:
    # V2-12: lab 120, venous blood gas 128: +8 raw, +10 on the laboratory's scale.
    f = only(findings([na(0, 120), na(18, 128, method=Method.POINT_OF_CARE)]),
             OVERCORRECTION_24H)
    assert f.severity == "warning" and f.mixed_methods
    assert f.rise_mmol_l == 10
    text = message(f, DEFAULT)
    assert "confirm with a laboratory sample" in text and "re-lowering" not in text


def test_a_raw_rise_above_the_limit_is_never_explained_away() -> None:
    # Point of care 120, then laboratory 129: +9 raw (+7 on one scale) still fires.
    f = only(findings([na(0, 120, method=Method.POINT_OF_CARE), na(18, 129)]),
             OVERCORRECTION_24H)
    assert f.severity == "critical" and f.rise_mmol_l == 9


def test_same_method_rises_are_not_adjusted() -> None:
    assert fired(findings(timed([(0, 120), (18, 128)])), OVERCORRECTION_24H) == []


# --- hypernatremia ----------------------------------------------------------------------

def test_hypernatremia_is_critical_at_160() -> None:
    assert only(findings([na(0, 159)]), HYPERNATREMIA).severity == "warning"
    assert only(findings([na(0, 160)]), HYPERNATREMIA).severity == "critical"
    assert "call the physician now" in message(only(findings([na(0, 163)]), HYPERNATREMIA),
                                               DEFAULT)


def test_hypernatremia_lowered_more_than_12_in_24h_warns() -> None:
    assert fired(findings(timed([(0, 160), (20, 148)])), HYPERNATREMIA_LOWERED_TOO_FAST) == []
    f = only(findings(timed([(0, 160), (20, 147.5)])), HYPERNATREMIA_LOWERED_TOO_FAST)
    assert f.severity == "warning" and f.rise_mmol_l == -12.5
    assert "cerebral oedema" in message(f, DEFAULT)
    # A fall from a value that was never above 145 is not this rule's.
    assert fired(findings(timed([(0, 145), (20, 130)])), HYPERNATREMIA_LOWERED_TOO_FAST) == []


# --- glucose-corrected sodium -----------------------------------------------------------

def with_glucose(points: list[tuple[float, float, float | None]],
                 policy: str = "default") -> PatientLedger:
    """(hours, sodium, glucose mg/dL or None at the same time)."""
    ledger, new_id, seq = PatientLedger(built_in(policy)), ids(), 0
    for n, (hours, sodium, glucose) in enumerate(points):
        seq += 1
        ledger.add_result(f"na{n}", Analyte.SODIUM, Method.LAB, ResultStatus.FINAL, sodium,
                          at(hours), seq, False, new_id)
        if glucose is not None:
            seq += 1
            ledger.add_result(f"glu{n}", Analyte.GLUCOSE, Method.LAB, ResultStatus.FINAL,
                              glucose / 18.016, at(hours), seq, False, new_id)
    return ledger


def test_dka_treatment_is_not_an_overcorrection_once_sodium_is_corrected() -> None:
    # V2-05: Na 126 with glucose 720 (corrected 140.9), then 136 with glucose 180.
    ledger = with_glucose([(0, 126, 720), (12, 136, 180)])
    assert OVERCORRECTION_24H not in active(ledger)
    assert ledger.series[Analyte.SODIUM].values == [140.9, 136]
    withdrawn = [a for a in ledger.alerts if a.rule == OVERCORRECTION_24H]
    assert all(a.state == WITHDRAWN for a in withdrawn)


def test_a_glucose_arriving_first_or_later_gives_the_same_series() -> None:
    later = with_glucose([(0, 126, None), (12, 136, None)])
    later.add_result("glu", Analyte.GLUCOSE, Method.LAB, ResultStatus.FINAL, 720 / 18.016,
                     at(0.5), 9, False, ids())
    assert later.series[Analyte.SODIUM].values == [140.9, 136]
    assert OVERCORRECTION_24H not in active(later)


def test_a_glucose_at_or_below_200_or_beyond_60_min_does_not_correct() -> None:
    assert with_glucose([(0, 126, 200)]).series[Analyte.SODIUM].values == [126]
    ledger = with_glucose([(0, 126, None)])
    ledger.add_result("glu", Analyte.GLUCOSE, Method.LAB, ResultStatus.FINAL, 720 / 18.016,
                      at(1.5), 2, False, ids())
    assert ledger.series[Analyte.SODIUM].values == [126]


def test_a_corrected_finding_shows_measured_and_corrected() -> None:
    # 108 with glucose 600: 120.0 is not severe; 104 with 600 is 116, severe.
    ledger = with_glucose([(0, 108, 600)])
    assert "SEVERE_HYPONATREMIA" not in active(ledger)
    ledger = with_glucose([(0, 104, 600)])
    severe = next(a for a in ledger.alerts if a.rule == "SEVERE_HYPONATREMIA"
                  and a.state == ACTIVE)
    f = severe.latest
    assert f.value_mmol_l == 116.0 and f.extra["measured_mmol_l"] == 104
    assert "corrected for a high glucose (measured 104 mmol/L)" in message(f, DEFAULT)


def test_removing_a_diagnosis_says_why_its_alert_went() -> None:
    ledger, new_id = PatientLedger(DEFAULT), ids()
    ledger.set_diagnosis("K70.3", True, new_id)
    for seq, (hours, value) in enumerate(((0, 120), (24, 127)), start=1):
        ledger.add_result(f"r{seq}", Analyte.SODIUM, Method.LAB, ResultStatus.FINAL, value,
                          at(hours), seq, False, new_id)
    assert OVERCORRECTION_24H in active(ledger)  # +7 above the high-risk 6
    ledger.set_diagnosis("K70.3", False, new_id)
    [gone] = [a for a in ledger.alerts if a.rule == OVERCORRECTION_24H]
    assert gone.state == WITHDRAWN
    assert gone.withdrawn_reason == ("diagnosis K70.3 removed: the rise is within "
                                     "the limit without it")
