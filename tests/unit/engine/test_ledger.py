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
from monitor.engine.versions import CONFLICTING_DUPLICATE, RESENT_AFTER_REMOVAL
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


def test_removing_the_baseline_withdraws_and_only_a_correction_raises_anew() -> None:
    feed = Feed()
    feed.send("r1", 0, 119)
    feed.send("r2", 24, 128.5)
    assert set(feed.active()) == {OVERCORRECTION_24H, SEVERE_HYPONATREMIA}
    changes = feed.send("r1", 0, None, status=ResultStatus.REMOVED)
    assert sorted(kinds(changes)) == [("withdrawn", OVERCORRECTION_24H),
                                      ("withdrawn", SEVERE_HYPONATREMIA)]
    assert feed.ledger.take_refused() == []
    # The final sent again is refused: the result stays removed, the sender is told.
    assert feed.send("r1", 0, 119) == []
    assert feed.send("r1", 0, 119, status=ResultStatus.PRELIMINARY) == []
    assert feed.active() == {}
    assert [(r.arrival_seq, r.reason) for r in feed.ledger.take_refused()] == [
        (4, RESENT_AFTER_REMOVAL), (5, RESENT_AFTER_REMOVAL)]
    assert feed.ledger.refused == []  # taken
    changes = feed.send("r1", 0, 119, status=ResultStatus.CORRECTED)
    assert sorted(kinds(changes)) == [("raised", OVERCORRECTION_24H),
                                      ("raised", SEVERE_HYPONATREMIA)]
    assert len(feed.ledger.alerts) == 4 and feed.ledger.take_refused() == []


def test_a_removal_that_arrived_before_its_final_keeps_the_result_removed() -> None:
    feed = Feed()
    feed.send("r1", 0, 119, seq=1)
    feed.send("r2", 24, 128.5, status=ResultStatus.REMOVED, seq=2)
    assert feed.send("r2", 24, 128.5, seq=3) == []
    assert set(feed.active()) == {SEVERE_HYPONATREMIA}
    assert [r.arrival_seq for r in feed.ledger.take_refused()] == [3]


def test_a_removal_processed_after_a_final_that_arrived_later_refuses_that_final() -> None:
    # Arrival: final (1), removal (2), final again (3); the removal's payload is processed
    # last (live: committed late). Versions apply in arrival order: the final at 3 came
    # after the removal, so it is refused, belatedly, and what it raised is withdrawn.
    feed = Feed()
    feed.send("r1", 0, 119, seq=10)
    feed.send("r2", 24, 128.5, seq=11)
    feed.send("r2", 24, 128.5, seq=13)
    assert set(feed.active()) == {OVERCORRECTION_24H, SEVERE_HYPONATREMIA}
    assert feed.ledger.take_refused() == []
    changes = feed.send("r2", 24, None, status=ResultStatus.REMOVED, seq=12)
    assert kinds(changes) == [("withdrawn", OVERCORRECTION_24H)]
    assert [(r.arrival_seq, r.reason) for r in feed.ledger.take_refused()] == [
        (13, RESENT_AFTER_REMOVAL)]


def test_a_different_value_under_an_inferred_identity_keeps_the_first() -> None:
    # A CSV row without result_id sent twice with different values: the nadir stays.
    feed = Feed()
    feed.send("p|t0|lab", 0, 117, inferred=True)
    assert feed.send("p|t0|lab", 0, 121, inferred=True) == []
    (refused,) = feed.ledger.take_refused()
    assert (refused.reason, refused.held_mmol_l) == (CONFLICTING_DUPLICATE, 117)
    assert feed.send("p|t0|lab", 0, 117, inferred=True) == []  # an identical re-send
    assert feed.ledger.take_refused() == []
    feed.send("p|t14|lab", 14, 126, inferred=True)
    assert set(feed.active()) == {OVERCORRECTION_24H, SEVERE_HYPONATREMIA}
    assert feed.active()[OVERCORRECTION_24H].worst.rise_mmol_l == 9


def test_a_correction_under_an_inferred_identity_replaces_the_value() -> None:
    feed = Feed()
    feed.send("p|t0|lab", 0, 117, inferred=True)
    feed.send("p|t14|lab", 14, 126, inferred=True)
    changes = feed.send("p|t0|lab", 0, 121, status=ResultStatus.CORRECTED, inferred=True)
    assert sorted(kinds(changes)) == [("withdrawn", OVERCORRECTION_24H),
                                      ("withdrawn", SEVERE_HYPONATREMIA)]
    assert feed.ledger.take_refused() == []


def test_a_sent_identity_keeps_the_newer_final() -> None:
    # With an id from the sender, a final replacing a final is §5 as it always was.
    feed = Feed()
    feed.send("R-1", 0, 117)
    feed.send("R-1", 0, 121)
    assert feed.active() == {} and feed.ledger.take_refused() == []


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
