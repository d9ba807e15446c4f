"""feeds.last_message_at is written at most once a second per feed in a process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.services.intake.inbox import FeedLiveness

T0 = datetime(2026, 9, 14, 9, 30, tzinfo=UTC)


def test_a_feed_is_registered_once_and_touched_at_most_once_a_second() -> None:
    live = FeedLiveness()
    assert live.due(["hl7:LIS"], T0) == ({"hl7:LIS"}, {"hl7:LIS"})
    assert live.due(["hl7:LIS"], T0) == ({"hl7:LIS"}, {"hl7:LIS"})  # not written yet
    live.written({"hl7:LIS"}, T0)
    assert live.due(["hl7:LIS"], T0 + timedelta(milliseconds=999)) == (set(), set())
    assert live.due(["hl7:LIS", "hl7:ADT"], T0 + timedelta(seconds=1)) == (
        {"hl7:ADT"}, {"hl7:LIS", "hl7:ADT"})
