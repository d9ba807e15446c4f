"""How numbers and times read in what the engine writes for people (messages, withdrawal
reasons, history notes): one place, so they read the same everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def number(x: float | None) -> str:
    """121 or 121.1: whole values without a decimal; "?" for none."""
    if x is None:
        return "?"
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


def clock(at: float | datetime, tz: tzinfo = UTC) -> str:
    """"07:00 on 5 Oct" in the display zone (epoch seconds or an aware time)."""
    t = at.astimezone(tz) if isinstance(at, datetime) else datetime.fromtimestamp(at, tz)
    return f"{t:%H:%M} on {t.day} {t:%b}"
