"""Timestamps as feeds write them -> aware UTC datetimes.

A timestamp without an offset is local time of the feed's zone (`tz`). Local times that a
DST change makes ambiguous (the repeated autumn hour) or nonexistent (the skipped spring
hour) are read with fold=0, zoneinfo's default: the offset in force *before* the change.
So an ambiguous 02:30 is the first (summer-time) 02:30, and a nonexistent 02:30 in spring
is taken with the winter offset, i.e. the same instant as 03:30 summer time. Labs rarely
sample in that hour; being off by one hour there is preferred to refusing the result.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from monitor.ingest.checks import Unusable

# HL7 v2 TS/DTM: YYYYMMDD[HH[MM[SS[.S+]]]][+/-ZZZZ]. Year or month precision is refused:
# a collection time must at least name the day.
_HL7_TS = re.compile(
    r"(\d{4})(\d{2})(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d+))?)?)?)?(?:([+-])(\d{2})(\d{2}))?"
)


def to_utc(moment: datetime, tz: tzinfo) -> datetime:
    """Aware UTC; a naive `moment` is local time in `tz` (fold=0, see the module docstring)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def parse_hl7_ts(text: str, tz: tzinfo, *, field: str = "timestamp") -> datetime:
    """An HL7 v2 TS (first component only; the rest is the old degree-of-precision)."""
    match = _HL7_TS.fullmatch(text.strip())
    if match is None:
        raise Unusable(f"{field} '{text}' is not an HL7 timestamp (YYYYMMDD[HHMM[SS]][+ZZZZ])")
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
        )
        if sign:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            moment = moment.replace(tzinfo=timezone(-offset if sign == "-" else offset))
    except ValueError as exc:
        raise Unusable(f"{field} '{text}' is not a valid time ({exc})") from None
    return to_utc(moment, tz)


def parse_iso(text: str, tz: tzinfo, *, field: str = "timestamp") -> datetime:
    """An ISO 8601 / FHIR dateTime with at least a day; `Z` and offsets are honoured."""
    try:
        return to_utc(datetime.fromisoformat(text.strip()), tz)
    except ValueError:
        raise Unusable(f"{field} '{text}' is not an ISO 8601 date-time") from None
