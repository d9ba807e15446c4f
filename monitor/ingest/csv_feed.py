"""CSV feeds -> events, one row at a time (hot path: the replay benchmark reads millions).

Columns (names case-insensitive, trimmed): patient_id, collected_at, sodium are required;
result_id, status, unit, analyte, specimen, risk_factors, acute_onset, patient_authority
and flags are optional. acute_onset, on any row of a patient, is the documented onset (ISO
8601) of acute hyponatremia: a clinician's acute mark, so that a replay can include the marks.
Any text in `flags` is the lab flagging the specimen (not counted, see flags.py).
`started_at` (ISO 8601), on a urine-output row, is the start of the interval the volume was
collected over (collected_at its end), so that its rate can be read (ingest/intervals.py);
on any other row it is refused rather than ignored.
The `sodium` column holds the row's value whatever its analyte (the potassium value when
analyte is "potassium"): the name is kept so that existing exports stay readable.
Without a unit (no column, or a blank cell) a value is in mmol/L. A row without result_id
is identified by patient, collection time, analyte, method (laboratory, point of care from
its specimen, urine) and code; its event says the key was inferred (`key_inferred`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from monitor.engine.model import (
    URINE_ANALYTES,
    Analyte,
    Diagnosis,
    Method,
    PatientRef,
    ResultStatus,
    RiskSource,
)
from monitor.ingest.checks import Unusable, measured_value
from monitor.ingest.codes import RISK_NAMES, is_blood_gas, risk_factor_code
from monitor.ingest.csv_medication import is_medication_header, medication_rows
from monitor.ingest.events import AcuteMarkEvent, DiagnosisEvent, Item, Reject, ResultEvent
from monitor.ingest.flags import flag_text
from monitor.ingest.intervals import output_interval
from monitor.ingest.times import parse_iso

REQUIRED = ("patient_id", "collected_at", "sodium")
CSV_ANALYTES = {a.value: a for a in Analyte}  # sodium, potassium, urine-sodium
CSV_STATUS = {
    "final": ResultStatus.FINAL,
    "preliminary": ResultStatus.PRELIMINARY,
    "corrected": ResultStatus.CORRECTED,
    "amended": ResultStatus.CORRECTED,
    "cancelled": ResultStatus.REMOVED,
    "entered-in-error": ResultStatus.REMOVED,
}
_T = TypeVar("_T")


def parse_csv(
    text: str, *, source: str, tz: ZoneInfo, keep: Callable[[str], bool] | None = None
) -> Iterator[Item]:
    """Rows -> events. `keep`, when given, skips rows of other patients (by patient_id)
    before they are parsed: a replay split across processes reads each row once."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        yield Reject(f"{source}:{reader.line_num}", f"unreadable CSV header: {exc}")
        return
    if header is None:
        return
    names = [name.strip().lower() for name in header]
    if is_medication_header(names):  # medication rows for backfill (csv_medication)
        yield from medication_rows(reader, names, source, tz)
        return
    problem = _header_problem(names)
    if problem is not None:
        yield Reject(f"{source}:{reader.line_num}", problem, ",".join(header))
        return
    columns = {name: index for index, name in enumerate(names)}
    patients: dict[tuple[str, str], PatientRef] = {}
    known_risks: set[tuple[PatientRef, str]] = set()  # and acute onsets, as ISO text
    while True:  # a row the csv module cannot read (an oversized field) must not end the file
        try:
            yield from _rows(reader, columns, source, tz, patients, known_risks, keep)
            return
        except csv.Error as exc:
            yield Reject(f"{source}:{reader.line_num}", f"unreadable CSV row: {exc}")


def _header_problem(names: list[str]) -> str | None:
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        return f"missing required column(s): {', '.join(missing)}"
    twice = sorted({name for name in names if names.count(name) > 1})
    return f"column(s) named twice: {', '.join(twice)}" if twice else None


def _rows(
    reader: Any,
    columns: dict[str, int],
    source: str,
    tz: ZoneInfo,
    patients: dict[tuple[str, str], PatientRef],
    known_risks: set[tuple[PatientRef, str]],
    keep: Callable[[str], bool] | None = None,
) -> Iterator[Item]:
    """The rows after the header; the hot loop, hence the locals."""
    width = len(columns)
    at = columns.get
    i_patient, i_time, i_value = columns["patient_id"], columns["collected_at"], columns["sodium"]
    i_authority, i_key, i_status = at("patient_authority"), at("result_id"), at("status")
    i_unit, i_analyte, i_specimen = at("unit"), at("analyte"), at("specimen")
    i_risks, i_onset, i_flags = at("risk_factors"), at("acute_onset"), at("flags")
    i_start = at("started_at")
    for row in reader:
        if not row:
            continue  # a blank line holds no row
        if keep is not None and len(row) == width and not keep(row[i_patient].strip()):
            continue
        position = f"{source}:{reader.line_num}"
        if len(row) != width:
            yield Reject(position, f"row has {len(row)} fields, the header {width}", ",".join(row))
            continue
        try:
            identifier = row[i_patient].strip()
            if not identifier:
                raise Unusable("no patient_id")
            authority = row[i_authority].strip() if i_authority is not None else ""
            patient = patients.get((authority, identifier))
            if patient is None:
                patient = patients[(authority, identifier)] = PatientRef(authority, identifier)
            if i_risks is not None and row[i_risks].strip():
                yield from _risks(row[i_risks], patient, position, known_risks)
            if i_onset is not None and row[i_onset].strip():
                yield from _onset(row[i_onset].strip(), patient, position, tz, known_risks)
            stamp = row[i_time].strip()
            try:
                moment = datetime.fromisoformat(stamp)
            except ValueError:
                raise Unusable(f"collected_at '{stamp}' is not an ISO 8601 date-time") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=tz)  # fold=0: see monitor.ingest.times
            collected_at = moment.astimezone(UTC)
            analyte = Analyte.SODIUM
            if i_analyte is not None and (name := row[i_analyte].strip().lower()):
                analyte = _lookup(CSV_ANALYTES, name, "analyte")
            started_at = None
            if i_start is not None and (begun := row[i_start].strip()):
                if analyte is not Analyte.URINE_OUTPUT:
                    raise Unusable(f"started_at is for urine output intervals, not {analyte}")
                started_at, collected_at = output_interval(
                    None, parse_iso(begun, tz, field="started_at"), collected_at)
            status = ResultStatus.FINAL
            if i_status is not None and (name := row[i_status].strip().lower()):
                status = _lookup(CSV_STATUS, name, "status")
            unit = (row[i_unit].strip() if i_unit is not None else "") or "mmol/L"
            value_raw = row[i_value]
            value_mmol_l = measured_value(analyte, value_raw, unit, status)
            specimen = (row[i_specimen].strip() if i_specimen is not None else "") or None
            key = row[i_key].strip() if i_key is not None else ""
        except Unusable as exc:
            yield Reject(position, str(exc), ",".join(row))
            continue
        if analyte in URINE_ANALYTES:
            method = Method.URINE
        elif analyte is Analyte.BODY_WEIGHT:
            method = Method.VITAL_SIGN
        else:
            gas = specimen is not None and is_blood_gas(specimen)
            method = Method.POINT_OF_CARE if gas else Method.LAB
        code = None  # CSV rows carry no LOINC code
        yield ResultEvent(
            patient,
            key or _inferred_key(authority, identifier, _iso_utc(stamp, collected_at),
                                 analyte, method, code),
            analyte,
            code,
            method,
            specimen,
            value_raw,
            unit,
            value_mmol_l,
            collected_at,
            status,
            position,
            key_inferred=not key,
            flag=flag_text([row[i_flags]]) if i_flags is not None else None,
            started_at=started_at,
        )


def _inferred_key(authority: str, identifier: str, collected_iso: str, analyte: Analyte,
                  method: Method, code: str | None) -> str:
    """A row without result_id is identified by what it measured, and how: a blood-gas
    value collected at the same minute as the laboratory one is another result, not a
    new version of it (the lab nadir would be lost)."""
    return "|".join((authority, identifier, collected_iso, analyte, method, code or ""))


def _iso_utc(stamp: str, collected_at: datetime) -> str:
    """collected_at.isoformat(), which costs as much as the rest of a row: a stamp already
    written exactly so ("2026-09-14T08:00:00+00:00", the common export form) is reused."""
    if len(stamp) == 25 and stamp[4::3] == "--T::+:" and stamp.endswith("+00:00"):
        return stamp
    return collected_at.isoformat()


def _lookup(table: dict[str, _T], name: str, column: str) -> _T:
    try:
        return table[name]
    except KeyError:
        raise Unusable(f"{column} '{name}' is not one of {', '.join(table)}") from None


def _onset(
    cell: str, patient: PatientRef, position: str, tz: ZoneInfo,
    known: set[tuple[PatientRef, str]],
) -> Iterator[Item]:
    """An AcuteMarkEvent the first time a patient's onset appears; a bad one its own Reject
    (the row's result still counts)."""
    try:
        onset = datetime.fromisoformat(cell)
    except ValueError:
        yield Reject(position, f"acute_onset '{cell}' is not an ISO 8601 date-time", cell)
        return
    if onset.tzinfo is None:
        onset = onset.replace(tzinfo=tz)
    onset = onset.astimezone(UTC)
    if (patient, f"acute@{onset.isoformat()}") not in known:
        known.add((patient, f"acute@{onset.isoformat()}"))
        yield AcuteMarkEvent(patient, onset, position)


def _risks(
    cell: str, patient: PatientRef, position: str, known: set[tuple[PatientRef, str]]
) -> Iterator[Item]:
    """One DiagnosisEvent per new risk factor of the patient; a bad item is its own Reject."""
    for item in filter(None, (part.strip() for part in cell.split(";"))):
        code = risk_factor_code(item)
        if code is None:
            names = ", ".join(sorted(RISK_NAMES))
            reason = f"risk factor '{item}' is neither an ICD-10 code nor one of {names}"
            yield Reject(position, reason, cell)
        elif (patient, code) not in known:
            known.add((patient, code))
            yield DiagnosisEvent(patient, Diagnosis(code, RiskSource.CSV), position)
