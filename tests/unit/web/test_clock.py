"""Times as the wards read them (issue 14, item 1)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from monitor.web.clock import day, hour, same_day, when

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_time_reads_in_the_display_zone_with_weekday_day_and_month() -> None:
    moment = datetime(2026, 12, 1, 12, 40, tzinfo=UTC)
    assert when(moment, BERLIN) == "Tue 1 Dec 13:40"  # CET, UTC+1
    assert when(datetime(2026, 7, 1, 12, 40, tzinfo=UTC), BERLIN) == "Wed 1 Jul 14:40"  # CEST
    assert when(moment, ZoneInfo("UTC")) == "Tue 1 Dec 12:40"
    assert day(moment, BERLIN) == "Tue 1 Dec 2026"
    assert when(None, BERLIN) == "—"


def test_the_year_is_shown_only_when_it_is_not_this_year() -> None:
    now = datetime(2027, 1, 2, 9, 0, tzinfo=UTC)
    assert when(datetime(2026, 12, 31, 23, 30, tzinfo=UTC), BERLIN, now) == \
        "Fri 1 Jan 00:30"  # already 2027 in Berlin
    assert when(datetime(2026, 12, 31, 12, 0, tzinfo=UTC), BERLIN, now) == \
        "Thu 31 Dec 2026 13:00"


def test_a_chart_tick_is_the_hour_with_the_weekday_when_asked() -> None:
    moment = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)  # 00:30 on Wednesday in Berlin
    assert hour(moment, BERLIN) == "00:30"
    assert hour(moment, BERLIN, weekday=True) == "Wed 00:30"
    assert not same_day(moment, datetime(2026, 12, 1, 22, 0, tzinfo=UTC), BERLIN)
    assert same_day(moment, datetime(2026, 12, 1, 22, 0, tzinfo=UTC), ZoneInfo("UTC"))
