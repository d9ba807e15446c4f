"""The interval of a urine output, as every feed states it: (start, end) UTC.

A volume means little without the hours it was collected over (the rate, mL/h, is what the
rules read: engine.fluids). The end is the result's collection time. A sender that states
only one end of the interval leaves the other to the code: LOINC 9188-4 is 1 h, 9192-6 is
24 h (codes.OUTPUT_HOURS); 9187-6 (point in time) then has no interval and is stored and
shown, never rated.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.ingest.checks import Unusable
from monitor.ingest.codes import OUTPUT_HOURS


def output_interval(code: str | None, start: datetime | None, end: datetime
                    ) -> tuple[datetime | None, datetime]:
    """(start, end) of a urine output; the start is None when neither the sender nor the
    code gives one. A start at or after the end is refused."""
    if start is None and code in OUTPUT_HOURS:
        start = end - timedelta(hours=OUTPUT_HOURS[code])
    if start is not None and start >= end:
        raise Unusable(f"urine output interval ends ({end.isoformat()}) at or before it "
                       f"starts ({start.isoformat()})")
    return start, end


def start_interval(code: str | None, start: datetime) -> tuple[datetime | None, datetime]:
    """A urine output sent with only its interval's start: the code's hours give the end;
    without them the one moment known is all there is (no interval)."""
    if code in OUTPUT_HOURS:
        return start, start + timedelta(hours=OUTPUT_HOURS[code])
    return None, start
