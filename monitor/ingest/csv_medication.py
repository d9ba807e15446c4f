"""CSV medication rows, for backfill: a file whose header has `medication` and no `sodium`.

Columns (names case-insensitive, trimmed): patient_id, given_at (ISO 8601; an offset-less
time is in the feed's zone) and medication (the words, "Sodium chloride 3% 250 mL IV") are
required; patient_authority, medication_id, kind (administration, the default, or order),
status (default completed for an administration, active for an order), code, code_system,
rxnorm, amount, unit and route are optional. A row without medication_id is identified by
its patient, kind, time and words.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitor.engine.medication import Medication, MedicationKind
from monitor.engine.model import PatientRef
from monitor.ingest.checks import Unusable
from monitor.ingest.events import Item, MedicationEvent, Reject

REQUIRED = ("patient_id", "given_at", "medication")
_KINDS = {k.value: k for k in MedicationKind}


def is_medication_header(names: list[str]) -> bool:
    return "medication" in names and "sodium" not in names


def medication_rows(reader: Any, names: list[str], source: str, tz: ZoneInfo
                    ) -> Iterator[Item]:
    """The rows after the header, from a csv.reader that has read it."""
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        yield Reject(f"{source}:{reader.line_num}",
                     f"missing required column(s): {', '.join(missing)}", ",".join(names))
        return
    for row in reader:
        if not row:
            continue
        position = f"{source}:{reader.line_num}"
        if len(row) != len(names):
            yield Reject(position, f"row has {len(row)} fields, the header {len(names)}",
                         ",".join(row))
            continue
        cells = {name: cell.strip() for name, cell in zip(names, row, strict=True)}
        try:
            yield _event(cells, position, tz)
        except Unusable as exc:
            yield Reject(position, str(exc), ",".join(row))


def _event(cells: dict[str, str], position: str, tz: ZoneInfo) -> MedicationEvent:
    if not cells["patient_id"]:
        raise Unusable("no patient_id")
    stamp = cells["given_at"]
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        raise Unusable(f"given_at '{stamp}' is not an ISO 8601 date-time") from None
    at = (moment.replace(tzinfo=tz) if moment.tzinfo is None else moment).astimezone(UTC)
    name = cells.get("kind", "").lower() or MedicationKind.ADMINISTRATION.value
    if name not in _KINDS:
        raise Unusable(f"kind '{name}' is not one of {', '.join(_KINDS)}")
    kind = _KINDS[name]
    if not cells["medication"]:
        raise Unusable("no medication (the words of the order or administration)")
    patient = PatientRef(cells.get("patient_authority", ""), cells["patient_id"])
    key = cells.get("medication_id") or "|".join(
        (patient.authority, patient.identifier, kind.value, at.isoformat(), cells["medication"]))
    status = cells.get("status", "").lower() or (
        "completed" if kind is MedicationKind.ADMINISTRATION else "active")

    def cell(column: str) -> str | None:
        return cells.get(column) or None

    return MedicationEvent(patient, Medication(
        f"csv:{key}", kind, at, cells["medication"], status, cell("code"), cell("code_system"),
        cell("rxnorm"), cell("amount"), cell("unit"), cell("route")), position)
