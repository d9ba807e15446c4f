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
