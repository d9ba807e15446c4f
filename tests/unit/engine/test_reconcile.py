"""reconcile: one active alert per rule, evidence, triggered_at, worst, withdrawal."""

from __future__ import annotations

from monitor.engine.model import Finding
from monitor.engine.reconcile import ACTIVE, WITHDRAWN, AlertRecord, badness, reconcile
from monitor.engine.rules import (
    FALLING_SODIUM,
    HYPERNATREMIA,
    OVERCORRECTION_24H,
    SEVERE_HYPONATREMIA,
)
from tests.unit.engine.builders import at, ids


def finding(rule: str, key: str, hours: float, value: float = 130,
            rise: float | None = 9, severity: str = "warning") -> Finding:
    return Finding(rule=rule, severity=severity, result_key=key, collected_at=at(hours),
                   value_mmol_l=value, rise_mmol_l=rise, window_hours=24, limit_mmol_l=8,
                   risk_tier="standard")


def test_a_first_finding_raises_an_alert() -> None:
    alerts: list[AlertRecord] = []
    changes = reconcile(alerts, [finding(OVERCORRECTION_24H, "r2", 24)], {"r2"}, ids())
    assert [(c.kind, c.alert.rule, c.alert.alert_id) for c in changes] == [
        ("raised", OVERCORRECTION_24H, "OVERCORRECTION_24H-1")]
    alert = changes[0].alert
    assert alert.state == ACTIVE and alert.triggered_at == at(24)


def test_no_findings_no_alerts_no_changes() -> None:
    assert reconcile([], [], {"r1"}, ids()) == []


def test_one_alert_per_rule_further_results_update_it() -> None:
    new_id = ids()
    alert = reconcile([], [finding(OVERCORRECTION_24H, "r2", 24, rise=9)], {"r2"},
                      new_id)[0].alert
    changes = reconcile([alert], [finding(OVERCORRECTION_24H, "r3", 30, rise=8.5)], {"r3"},
                        new_id)
    assert [(c.kind, c.alert is alert) for c in changes] == [("updated", True)]
    assert set(alert.evidence) == {"r2", "r3"}
    assert alert.triggered_at == at(24)
    assert alert.worst.result_key == "r2"  # the larger rise
    assert alert.latest.result_key == "r3"


def test_triggered_at_is_the_earliest_collected_evidence_whatever_the_order() -> None:
    new_id = ids()
    alert = reconcile([], [finding(SEVERE_HYPONATREMIA, "late", 30, rise=None)], {"late"},
                      new_id)[0].alert
    reconcile([alert], [finding(SEVERE_HYPONATREMIA, "early", 6, rise=None)], {"early"},
              new_id)
    assert alert.triggered_at == at(6)


def test_re_evaluated_evidence_that_still_holds_is_no_change() -> None:
    f = finding(OVERCORRECTION_24H, "r2", 24)
    alert = reconcile([], [f], {"r2"}, ids())[0].alert
    assert reconcile([alert], [f], {"r2"}, ids()) == []


def test_evidence_that_no_longer_holds_is_dropped_and_the_alert_updated() -> None:
    alert = reconcile([], [finding(OVERCORRECTION_24H, "r2", 24),
                           finding(OVERCORRECTION_24H, "r3", 30)], {"r2", "r3"},
                      ids())[0].alert
    changes = reconcile([alert], [], {"r2"}, ids())
    assert [c.kind for c in changes] == ["updated"]
    assert set(alert.evidence) == {"r3"} and alert.triggered_at == at(30)


def test_no_evidence_left_withdraws_with_the_reason() -> None:
    alert = reconcile([], [finding(OVERCORRECTION_24H, "r2", 24)], {"r2"}, ids())[0].alert
    changes = reconcile([alert], [], {"r1", "r2"}, ids())
    assert [(c.kind, c.alert is alert) for c in changes] == [("withdrawn", True)]
    assert alert.state == WITHDRAWN
    assert alert.withdrawn_reason is not None
    assert OVERCORRECTION_24H in alert.withdrawn_reason and "r2" in alert.withdrawn_reason
    assert set(alert.evidence) == {"r2"}  # kept, to show what was withdrawn


def test_results_not_re_evaluated_keep_their_evidence() -> None:
    alert = reconcile([], [finding(OVERCORRECTION_24H, "r2", 24)], {"r2"}, ids())[0].alert
    assert reconcile([alert], [], {"r5"}, ids()) == []
    assert alert.state == ACTIVE


def test_a_withdrawn_alert_is_not_reused() -> None:
    new_id = ids()
    first = reconcile([], [finding(OVERCORRECTION_24H, "r2", 24)], {"r2"}, new_id)[0].alert
    reconcile([first], [], {"r2"}, new_id)
    changes = reconcile([first], [finding(OVERCORRECTION_24H, "r4", 40)], {"r4"}, new_id)
    assert [c.kind for c in changes] == ["raised"]
    second = changes[0].alert
    assert second is not first and second.alert_id == "OVERCORRECTION_24H-2"
    assert first.state == WITHDRAWN


def test_severity_is_critical_when_any_evidence_is() -> None:
    alert = reconcile([], [finding(OVERCORRECTION_24H, "r2", 24, severity="warning"),
                           finding(OVERCORRECTION_24H, "r3", 30, severity="critical",
                                   rise=8.5)], {"r2", "r3"}, ids())[0].alert
    assert alert.severity == "critical"
    assert alert.worst.result_key == "r3"  # critical beats a larger warning rise


def test_each_rule_gets_its_own_alert() -> None:
    changes = reconcile([], [finding(OVERCORRECTION_24H, "r2", 24),
                             finding(SEVERE_HYPONATREMIA, "r1", 0, rise=None)], {"r1", "r2"},
                        ids())
    assert sorted(c.alert.rule for c in changes) == [OVERCORRECTION_24H, SEVERE_HYPONATREMIA]


def test_badness_orders_by_the_rule_meaning() -> None:
    assert badness(finding(SEVERE_HYPONATREMIA, "a", 0, value=110, rise=None)) > badness(
        finding(SEVERE_HYPONATREMIA, "b", 0, value=115, rise=None))
    assert badness(finding(HYPERNATREMIA, "a", 0, value=152, rise=None)) > badness(
        finding(HYPERNATREMIA, "b", 0, value=147, rise=None))
    assert badness(finding(FALLING_SODIUM, "a", 0, rise=-9)) > badness(
        finding(FALLING_SODIUM, "b", 0, rise=-6))
    assert badness(finding(OVERCORRECTION_24H, "a", 0, rise=12)) > badness(
        finding(OVERCORRECTION_24H, "b", 0, rise=9))


# --- overcorrection events --------------------------------------------------------------

def rise_from(key: str, hours: float, value: float, from_hours: float,
              from_value: float) -> Finding:
    return Finding(rule=OVERCORRECTION_24H, severity="critical", result_key=key,
                   collected_at=at(hours), value_mmol_l=value, rise_mmol_l=value - from_value,
                   window_hours=24, limit_mmol_l=8, risk_tier="standard",
                   extra={"from_at": at(from_hours).timestamp(), "low_mmol_l": from_value})


def test_a_rise_from_a_value_after_the_event_peak_is_a_new_event() -> None:
    # V2-06: 116 -> 125 (peak at 18 h), re-lowered to 119 at 26 h, then 128 at 44 h.
    new_id = ids()
    first = reconcile([], [rise_from("r2", 18, 125, 0, 116)], {"r2"}, new_id)[0].alert
    changes = reconcile([first], [rise_from("r4", 44, 128, 26, 119)], {"r4"}, new_id)
    assert [c.kind for c in changes] == ["raised"]
    second = changes[0].alert
    assert first.state == ACTIVE and second.state == ACTIVE
    assert second.event != first.event and second.triggered_at == at(44)


def test_a_rise_from_before_the_peak_stays_in_its_event() -> None:
    new_id = ids()
    first = reconcile([], [rise_from("r2", 18, 125, 0, 116)], {"r2"}, new_id)[0].alert
    changes = reconcile([first], [rise_from("r3", 20, 126, 0, 116)], {"r3"}, new_id)
    assert [(c.kind, c.alert is first) for c in changes] == [("updated", True)]


def test_events_do_not_depend_on_arrival_order() -> None:
    a, b = rise_from("r2", 18, 125, 0, 116), rise_from("r4", 44, 128, 26, 119)
    new_id = ids()
    late = reconcile([], [b], {"r4"}, new_id)[0].alert
    changes = reconcile([late], [a], {"r2"}, new_id)
    alerts = [late] + [c.alert for c in changes if c.kind == "raised"]
    assert sorted(x.triggered_at for x in alerts if x.state == ACTIVE) == [at(18), at(44)]


def test_re_lowering_above_the_event_nadir_is_noted_not_a_falling_warning() -> None:
    new_id = ids()
    event = reconcile([], [rise_from("r2", 18, 125, 0, 116)], {"r2"}, new_id)[0].alert
    fall = Finding(rule=FALLING_SODIUM, severity="warning", result_key="r3",
                   collected_at=at(26), value_mmol_l=119, rise_mmol_l=-6, window_hours=24,
                   limit_mmol_l=6, risk_tier="standard")
    changes = reconcile([event], [fall], {"r3"}, new_id)
    assert [(c.kind, c.alert is event) for c in changes] == [("updated", True)]
    assert changes[0].note == "re-lowered to 119 at 10:00 on 5 Mar"
    below = Finding(rule=FALLING_SODIUM, severity="warning", result_key="r5",
                    collected_at=at(30), value_mmol_l=114, rise_mmol_l=-11, window_hours=24,
                    limit_mmol_l=6, risk_tier="standard")
    raised = [c for c in reconcile([event], [below], {"r5"}, new_id) if c.kind == "raised"]
    assert [c.alert.rule for c in raised] == [FALLING_SODIUM]  # below the first nadir
