"""Timestamps -> aware UTC, with DST handled by zoneinfo (fold=0)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.ingest.checks import Unusable
from monitor.ingest.times import parse_hl7_ts, parse_iso

from .builders import BERLIN, UTC_TZ


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20260914", datetime(2026, 9, 14, tzinfo=UTC)),
        ("2026091408", datetime(2026, 9, 14, 8, tzinfo=UTC)),
        ("202609140830", datetime(2026, 9, 14, 8, 30, tzinfo=UTC)),
        ("20260914083015.25", datetime(2026, 9, 14, 8, 30, 15, 250000, tzinfo=UTC)),
        ("20260914083015+0200", datetime(2026, 9, 14, 6, 30, 15, tzinfo=UTC)),
        ("202609140830-0330", datetime(2026, 9, 14, 12, 0, tzinfo=UTC)),
    ],
)
def test_hl7_timestamp_formats(text: str, expected: datetime) -> None:
    assert parse_hl7_ts(text, UTC_TZ) == expected


@pytest.mark.parametrize("text", ["2026", "202609", "2026-09-14", "20261314", "20260914 0800"])
def test_bad_hl7_timestamps(text: str) -> None:
    with pytest.raises(Unusable):
        parse_hl7_ts(text, UTC_TZ)


def test_dst_spring_forward_in_berlin() -> None:
    before = parse_hl7_ts("202603290130", BERLIN)
    after = parse_hl7_ts("202603290330", BERLIN)

    assert before == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert after - before == timedelta(hours=1)


def test_nonexistent_and_ambiguous_local_times_use_fold_0() -> None:
    # 02:30 does not exist on 2026-03-29: read with the winter offset (+01:00).
    assert parse_hl7_ts("202603290230", BERLIN) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    # 02:30 happens twice on 2026-10-25: the first one, still summer time (+02:00).
    assert parse_hl7_ts("202610250230", BERLIN) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_iso_timestamps() -> None:
    assert parse_iso("2026-09-14T08:00:00Z", BERLIN) == datetime(2026, 9, 14, 8, tzinfo=UTC)
    assert parse_iso("2026-09-14T10:00:00", BERLIN) == datetime(2026, 9, 14, 8, tzinfo=UTC)
    with pytest.raises(Unusable, match="'2026-09' is not an ISO 8601 date-time"):
        parse_iso("2026-09", BERLIN)
