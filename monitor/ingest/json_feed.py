"""JSON results (`POST /api/v1/results`): a list of objects with the CSV columns as keys.

The same columns mean the same thing in both, so the rows go through the CSV adapter and
its checks; a JSON feed gets exactly the validation a CSV backfill gets.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import replace
from zoneinfo import ZoneInfo

from monitor.ingest.csv_feed import parse_csv
from monitor.ingest.events import Item, Reject
from monitor.ingest.json_bounds import NotUsableJson, load_json

COLUMNS = ("patient_id", "patient_authority", "collected_at", "sodium", "result_id", "status",
           "unit", "analyte", "specimen", "risk_factors", "acute_onset", "flags")


def parse_json_results(text: str, *, source: str, tz: ZoneInfo) -> Iterator[Item]:
    try:
        rows = load_json(text)
    except NotUsableJson as error:
        yield Reject(f"{source}:1", str(error), text[:500])
        return
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        yield Reject(f"{source}:1", "expected a JSON list of result objects", text[:500])
        return
    buffer = io.StringIO()
    out = csv.writer(buffer)
    out.writerow(COLUMNS)
    for row in rows:
        out.writerow(["" if row.get(c) is None else str(row.get(c)) for c in COLUMNS])
    for item in parse_csv(buffer.getvalue(), source=source, tz=tz):
        yield _renumber(item, source)


def _renumber(item: Item, source: str) -> Item:
    """CSV line n is list element n - 1 (the header is line 1)."""
    position = getattr(item, "position", "")
    if not position.startswith(f"{source}:"):
        return item
    index = int(position.rsplit(":", 1)[1]) - 2
    new = f"{source}[{index}]"
    if isinstance(item, Reject):
        return Reject(new, item.reason, item.payload, item.content_error)
    return replace(item, position=new)
