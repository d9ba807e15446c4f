from datetime import UTC, datetime, timedelta

from monitor.alerts.escalation import WardTiming, first_due, next_step

RAISED = datetime(2026, 9, 14, 8, tzinfo=UTC)
T = WardTiming()


def test_critical_escalates_after_10_minutes_and_warning_after_30() -> None:
    assert first_due(RAISED, "critical", T) == RAISED + timedelta(minutes=10)
    assert first_due(RAISED, "warning", T) == RAISED + timedelta(minutes=30)


def test_nothing_happens_before_the_timer_runs_out() -> None:
    due = first_due(RAISED, "critical", T)
    assert next_step(0, due, due - timedelta(seconds=1), T) is None


def test_first_step_escalates_then_repeats_every_ten_minutes() -> None:
    due = first_due(RAISED, "critical", T)
    step = next_step(0, due, due, T)
    assert step is not None and (step.event, step.level) == ("escalated", 1)
    assert step.next_at == due + timedelta(minutes=10)
    again = next_step(1, step.next_at, step.next_at, T)
    assert again is not None and again.event == "repeated"


def test_a_late_scheduler_catches_up_with_one_step_not_a_burst() -> None:
    due = first_due(RAISED, "critical", T)
    late = due + timedelta(hours=1)
    step = next_step(0, due, late, T)
    assert step is not None and step.next_at == late + timedelta(minutes=10)


def test_per_ward_timings() -> None:
    fast = WardTiming(timedelta(minutes=2), timedelta(minutes=5), timedelta(minutes=3))
    assert first_due(RAISED, "critical", fast) == RAISED + timedelta(minutes=2)
    step = next_step(0, RAISED, RAISED, fast)
    assert step is not None and step.next_at == RAISED + timedelta(minutes=3)
