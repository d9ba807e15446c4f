"""Times as the wards read them: in the display zone, "Tue 1 Dec 13:40", never an ISO
string (the zone is named once per page, by the page's footer)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def when(moment: datetime | None, zone: ZoneInfo, year_of: datetime | None = None) -> str:
    """Weekday, day, month and time in `zone`; the year too when it is not that of
    `year_of` (default: the moment's own, so never)."""
    if moment is None:
        return "—"
    local = moment.astimezone(zone)
    text = f"{local:%a} {local.day} {local:%b %H:%M}"
    if year_of is not None and year_of.astimezone(zone).year != local.year:
        text = f"{local:%a} {local.day} {local:%b %Y %H:%M}"
    return text


def hour(moment: datetime, zone: ZoneInfo, weekday: bool = False) -> str:
    """"13:40" in `zone`, or "Tue 13:40" with the weekday (a chart's tick, an "until")."""
    local = moment.astimezone(zone)
    return f"{local:%a %H:%M}" if weekday else f"{local:%H:%M}"


def same_day(a: datetime, b: datetime, zone: ZoneInfo) -> bool:
    return a.astimezone(zone).date() == b.astimezone(zone).date()


def day(moment: datetime | None, zone: ZoneInfo) -> str:
    """Weekday, day, month and year in `zone`."""
    if moment is None:
        return "—"
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y}"


def years(birth: date | None, today: date) -> int | None:
    """Age in completed years on `today` (the display zone's date)."""
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def born(birth: date | None) -> str:
    return "—" if birth is None else f"{birth.day} {birth:%b %Y}"


def field_value(moment: datetime, zone: ZoneInfo) -> str:
    """`moment` as a datetime-local input shows it: "2026-12-01T13:40", in `zone`."""
    return f"{moment.astimezone(zone):%Y-%m-%dT%H:%M}"


def from_field(text: str, zone: ZoneInfo) -> datetime:
    """A datetime-local input's value ("2026-12-01T13:40") read in `zone`: the admin types
    the wards' time, never UTC. A value with its own offset keeps it. In the hour a clock
    goes back, the earlier of the two moments is taken (fold 0)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date and time (YYYY-MM-DD HH:MM)") from None
    return value if value.tzinfo else value.replace(tzinfo=zone)
