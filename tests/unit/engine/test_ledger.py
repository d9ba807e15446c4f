"""PatientLedger: versions in, re-evaluation of the affected windows, alerts out."""

from __future__ import annotations

from monitor.engine.ledger import absorb
from monitor.engine.model import Analyte, Method, ResultStatus
from monitor.engine.reconcile import WITHDRAWN, Change
from monitor.engine.rules import (
    OVERCORRECTION_24H,
    PROJECTED_OVERCORRECTION,
    SEVERE_HYPONATREMIA,
)
from tests.unit.engine.builders import Feed, at


def kinds(changes: list[Change]) -> list[tuple[str, str]]:
    return [(c.kind, c.alert.rule) for c in changes]


def test_a_qualifying_result_raises_and_a_further_one_updates() -> None:
    feed = Feed()
    feed.send("r1", 0, 120)
    assert kinds(feed.send("r2", 12, 128.5)) == [("raised", OVERCORRECTION_24H)]
    assert kinds(feed.send("r3", 20, 130)) == [("updated", OVERCORRECTION_24H)]
    alert = feed.active()[OVERCORRECTION_24H]
    assert alert.triggered_at == at(12)
    assert alert.worst.result_key == "r3" and alert.latest.result_key == "r3"
    assert len([a for a in feed.ledger.alerts if a.rule == OVERCORRECTION_24H]) == 1


def test_a_late_earlier_result_re_evaluates_the_later_windows() -> None:
    feed = Feed()
    feed.send("r2", 24, 128.5)
    assert feed.active() == {}
    assert kinds(feed.send("r1", 0, 120)) == [("raised", OVERCORRECTION_24H)]
    assert feed.active()[OVERCORRECTION_24H].triggered_at == at(24)


def test_a_late_result_moves_triggered_at_to_the_earliest_evidence() -> None:
    feed = Feed()
    for key, hours, value in [("r1", 0, 120), ("r3", 20, 129)]:
        feed.send(key, hours, value)
    assert feed.active()[OVERCORRECTION_24H].triggered_at == at(20)
    assert kinds(feed.send("r2", 10, 128.5)) == [("updated", OVERCORRECTION_24H)]
    assert feed.active()[OVERCORRECTION_24H].triggered_at == at(10)


def test_a_correction_that_removes_the_rise_withdraws_the_alert() -> None:
    feed = Feed()
    feed.send("r1", 0, 120)
    feed.send("r2", 24, 128.5)
    changes = feed.send("r2", 24, 127, status=ResultStatus.CORRECTED)
    assert kinds(changes) == [("withdrawn", OVERCORRECTION_24H)]
    alert = changes[0].alert
    assert alert.state == WITHDRAWN and "r2" in (alert.withdrawn_reason or "")
    assert feed.active() == {}


def test_a_correction_of_the_baseline_re_evaluates_the_later_result() -> None:
    feed = Feed()
    feed.send("r1", 0, 120)
    feed.send("r2", 24, 128.5)
    changes = feed.send("r1", 0, 121, status=ResultStatus.CORRECTED)
    assert kinds(changes) == [("withdrawn", OVERCORRECTION_24H)]


def test_removing_the_baseline_withdraws_and_re_sending_it_raises_anew() -> None:
    feed = Feed()
    feed.send("r1", 0, 119)
    feed.send("r2", 24, 128.5)
    assert set(feed.active()) == {OVERCORRECTION_24H, SEVERE_HYPONATREMIA}
    changes = feed.send("r1", 0, None, status=ResultStatus.REMOVED)
    assert sorted(kinds(changes)) == [("withdrawn", OVERCORRECTION_24H),
                                      ("withdrawn", SEVERE_HYPONATREMIA)]
    changes = feed.send("r1", 0, 119)
    assert sorted(kinds(changes)) == [("raised", OVERCORRECTION_24H),
                                      ("raised", SEVERE_HYPONATREMIA)]
    assert len(feed.ledger.alerts) == 4


def test_the_same_version_again_changes_nothing() -> None:
    feed = Feed()
    feed.send("r1", 0, 120, seq=1)
    feed.send("r2", 24, 128.5, seq=2)
    before = [(a.rule, a.state, dict(a.evidence)) for a in feed.ledger.alerts]
    assert feed.send("r2", 24, 128.5, seq=2) == []
    assert feed.send("r1", 0, 120, seq=1) == []
    assert [(a.rule, a.state, dict(a.evidence)) for a in feed.ledger.alerts] == before


def test_a_final_with_the_preliminary_value_changes_nothing() -> None:
    feed = Feed()
    feed.send("r1", 0, 120)
    feed.send("r2", 24, 128.5, status=ResultStatus.PRELIMINARY)
    assert set(feed.active()) == {OVERCORRECTION_24H}
    assert feed.send("r2", 24, 128.5) == []
    assert feed.send("r2", 24, None, status=ResultStatus.MAKE_FINAL) == []


def test_a_late_preliminary_does_not_overwrite_the_final() -> None:
    feed = Feed()
    feed.send("r1", 0, 120, seq=1)
    feed.send("r2", 24, 128.5, seq=5)
    assert feed.send("r2", 24, 126, status=ResultStatus.PRELIMINARY, seq=3) == []
    assert set(feed.active()) == {OVERCORRECTION_24H}


def test_a_correction_of_the_collection_time_moves_the_result() -> None:
    feed = Feed()
    feed.send("r1", 0, 120)
    feed.send("r2", 30, 128.5)
    assert feed.active() == {}
    changes = feed.send("r2", 24, 128.5, status=ResultStatus.CORRECTED)
    assert kinds(changes) == [("raised", OVERCORRECTION_24H)]
    assert feed.active()[OVERCORRECTION_24H].triggered_at == at(24)


def test_urine_sodium_is_never_counted() -> None:
    feed = Feed()
    feed.send("u1", 0, 20, analyte=Analyte.URINE_SODIUM, method=Method.URINE)
    assert feed.ledger.alerts == [] and Analyte.URINE_SODIUM not in feed.ledger.series


def test_an_alert_from_test_results_only_is_a_test_alert() -> None:
    feed = Feed()
    feed.send("t1", 0, 115, test=True)
    alert = feed.active()[SEVERE_HYPONATREMIA]
    assert feed.ledger.is_test(alert)
    feed.send("r2", 6, 116)
    assert not feed.ledger.is_test(alert)


def test_an_acute_mark_takes_effect_on_re_evaluation() -> None:
    feed = Feed()
    feed.send("r1", 0, 119)
    feed.send("r2", 24, 128.5)
    changes = feed.ledger.mark_acute(at(1), feed.new_id)
    assert kinds(changes) == [("withdrawn", OVERCORRECTION_24H)]
    assert changes[0].alert.withdrawn_reason == (
        "hyponatremia marked acute (onset 2024-03-04 09:00 UTC): no correction limit applies "
        "to a rise from a value collected within 48 h of the onset")
    assert set(feed.active()) == {SEVERE_HYPONATREMIA}
    assert feed.ledger.mark_acute(at(1), feed.new_id) == []  # the same onset again


def test_projection_then_overcorrection_are_two_alerts() -> None:
    feed = Feed()
    feed.send("r1", 0, 120)
    feed.send("r2", 2, 124)
    assert set(feed.active()) == {PROJECTED_OVERCORRECTION}
    feed.send("r3", 4, 128.5)
    assert set(feed.active()) == {PROJECTED_OVERCORRECTION, OVERCORRECTION_24H}


def test_an_acute_mark_expires_and_a_later_rise_in_the_same_episode_alerts() -> None:
    feed = Feed()
    feed.ledger.mark_acute(at(0), feed.new_id)
    feed.send("r1", 0, 118)
    feed.send("r2", 20, 127)
    assert OVERCORRECTION_24H not in feed.active()
    # Still below 136: the same episode, but three days after the onset it is chronic.
    feed.send("r3", 72, 121)
    feed.send("r4", 90, 130)
    alert = feed.active()[OVERCORRECTION_24H]
    assert (alert.triggered_at, alert.worst.extra["from_mmol_l"]) == (at(90), 121)


def test_a_merge_moves_results_and_keeps_one_alert_per_rule() -> None:
    survivor, old = Feed(), Feed()
    survivor.send("s1", 0, 118)
    old.send("o1", 6, 117)
    old.send("o2", 24, 127)
    changes = absorb(survivor.ledger, old.ledger, "merged", survivor.new_id)
    assert ("withdrawn", SEVERE_HYPONATREMIA) in kinds(changes)
    active = survivor.active()
    assert set(active) == {SEVERE_HYPONATREMIA, OVERCORRECTION_24H}
    assert set(active[SEVERE_HYPONATREMIA].evidence) == {"s1", "o1"}
    assert active[OVERCORRECTION_24H].triggered_at == at(24)
    assert old.ledger.results == {} and old.ledger.alerts == []
