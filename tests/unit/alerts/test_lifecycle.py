from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerts import lifecycle as lc

NOW = datetime(2026, 9, 14, 8, tzinfo=UTC)


def alert(state: str = lc.UNACKNOWLEDGED, rule: str = "OVERCORRECTION_24H",
          severity: str = "warning", rise: float | None = 9.0, **kw: object) -> lc.AlertView:
    return lc.AlertView(rule=rule, severity=severity, lifecycle=state, value_mmol_l=125,
                        rise_mmol_l=rise, **kw)  # type: ignore[arg-type]


def test_acknowledge_moves_unacknowledged_to_acknowledged_by_a_named_user() -> None:
    t = lc.acknowledge(alert(), "nurse.kim", "calling the physician")
    assert (t.from_state, t.to_state, t.actor, t.reason) == (
        lc.UNACKNOWLEDGED, lc.ACKNOWLEDGED, "nurse.kim", "calling the physician")


def test_acknowledging_a_cleared_alert_resolves_it() -> None:
    assert lc.acknowledge(alert(lc.CLEARED_UNACKNOWLEDGED), "n", None).to_state == lc.RESOLVED


@pytest.mark.parametrize("state", [lc.ACKNOWLEDGED, lc.RESOLVED, lc.WITHDRAWN, lc.SHELVED])
def test_acknowledge_is_refused_from_other_states(state: str) -> None:
    with pytest.raises(lc.TransitionError):
        lc.acknowledge(alert(state), "n", None)


def test_shelve_needs_a_reason_and_at_most_12_hours() -> None:
    t = lc.shelve(alert(), "n", "patient in theatre", NOW + timedelta(hours=12), NOW)
    assert t.to_state == lc.SHELVED and t.shelved_until == NOW + timedelta(hours=12)
    with pytest.raises(lc.TransitionError):
        lc.shelve(alert(), "n", "too long", NOW + timedelta(hours=12, seconds=1), NOW)
    with pytest.raises(lc.TransitionError):
        lc.shelve(alert(), "n", "  ", NOW + timedelta(hours=1), NOW)
    with pytest.raises(lc.TransitionError):
        lc.shelve(alert(), "n", "past", NOW, NOW)


def test_a_shelf_returns_the_alert_when_it_expires_and_not_before() -> None:
    shelved = alert(lc.SHELVED, shelved_until=NOW + timedelta(hours=2))
    assert lc.unshelve_if_due(shelved, NOW + timedelta(hours=1, minutes=59)) is None
    t = lc.unshelve_if_due(shelved, NOW + timedelta(hours=2))
    assert t is not None and t.to_state == lc.UNACKNOWLEDGED


def test_re_alarm_on_higher_severity_or_a_further_rise_of_two() -> None:
    acked = dict(acknowledged_severity="warning", acknowledged_rise=9.0)
    assert lc.realarm_if_worse(alert(lc.ACKNOWLEDGED, rise=10.9, **acked)) is None
    t = lc.realarm_if_worse(alert(lc.ACKNOWLEDGED, rise=11.0, **acked))
    assert t is not None and t.to_state == lc.UNACKNOWLEDGED
    assert lc.realarm_if_worse(alert(lc.ACKNOWLEDGED, severity="critical", rise=9.0,
                                     **acked)) is not None
    assert lc.realarm_if_worse(alert(lc.UNACKNOWLEDGED, rise=20, **acked)) is None


def test_only_a_physician_resolves_and_with_a_note() -> None:
    with pytest.raises(lc.TransitionError):
        lc.resolve(alert(lc.ACKNOWLEDGED), "nurse.kim", "nurse", "done")
    with pytest.raises(lc.TransitionError):
        lc.resolve(alert(lc.ACKNOWLEDGED), "dr.ali", "physician", " ")
    t = lc.resolve(alert(lc.ACKNOWLEDGED), "dr.ali", "physician", "D5W started")
    assert t.to_state == lc.RESOLVED


def test_an_overcorrection_alert_never_clears_by_itself() -> None:
    assert lc.clear(alert(rule="OVERCORRECTION_24H")) is None
    assert lc.clear(alert(rule="OVERCORRECTION_48H", state=lc.ACKNOWLEDGED)) is None


def test_a_severe_alert_clears_unacknowledged_or_resolves_when_acknowledged() -> None:
    severe = dict(rule="SEVERE_HYPONATREMIA", rise=None)
    cleared = lc.clear(alert(**severe))  # type: ignore[arg-type]
    assert cleared is not None and cleared.to_state == lc.CLEARED_UNACKNOWLEDGED
    resolved = lc.clear(alert(lc.ACKNOWLEDGED, **severe))  # type: ignore[arg-type]
    assert resolved is not None and resolved.to_state == lc.RESOLVED



def test_a_critical_is_shelved_only_for_a_reason_in_words() -> None:
    until = NOW + timedelta(hours=1)
    for ready_made in lc.SHELVE_REASONS:
        with pytest.raises(lc.TransitionError, match="in your own words"):
            lc.shelve(alert(severity="critical"), "n", ready_made.upper(), until, NOW)
        assert lc.shelve(alert(), "n", ready_made, until, NOW).to_state == lc.SHELVED
    t = lc.shelve(alert(severity="critical"), "n", "in CT until 14:00, dr.ali aware", until, NOW)
    assert t.to_state == lc.SHELVED and t.reason == "in CT until 14:00, dr.ali aware"
