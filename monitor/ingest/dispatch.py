"""One entry point for every feed format: replay, import and the workers all use it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from monitor.ingest.authorities import canonical_patients
from monitor.ingest.csv_feed import parse_csv
from monitor.ingest.detect import detect_format
from monitor.ingest.events import Item, Reject
from monitor.ingest.flags import DEFAULT_SUSPECT_COMMENTS
from monitor.ingest.hl7_message import parse_hl7_stream
from monitor.ingest.json_feed import parse_json_results

if TYPE_CHECKING:
    from monitor.ingest.fhir_common import PatientIndex
    from monitor.ingest.terminology import Terminology


def parse_text(name: str, text: str, fmt: str, tz: ZoneInfo,
               local_codes: Mapping[str, str] | None = None,
               keep: Callable[[str], bool] | None = None,
               suspect_comments: tuple[str, ...] = DEFAULT_SUSPECT_COMMENTS,
               patients: PatientIndex | None = None,
               authorities: Mapping[str, str] | None = None,
               terms: Terminology | None = None) -> Iterable[Item]:
    """Events and rejects of a feed; `fmt` is hl7, fhir, csv, json or auto (sniffed).
    `suspect_comments`: comment text that flags a result (CSV rows carry a `flags` column);
    `patients`: FHIR Patients read beforehand from all the inputs of a replay;
    `authorities`: alias -> canonical assigning authority (monitor.ingest.authorities);
    `terms`: national ICD-10 systems and alcohol answers (monitor.ingest.terminology)."""
    items = _parse(name, text, fmt, tz, local_codes, keep, suspect_comments, patients, terms)
    return canonical_patients(items, authorities) if authorities else items


def _parse(name: str, text: str, fmt: str, tz: ZoneInfo, local_codes: Mapping[str, str] | None,
           keep: Callable[[str], bool] | None, suspect_comments: tuple[str, ...],
           patients: PatientIndex | None, terms: Terminology | None) -> Iterable[Item]:
    try:
        kind = format_of(name, text, fmt)
    except ValueError as error:  # e.g. a README beside the feeds: refused like any input
        return [Reject(name, str(error), text[:1024])]
    if kind == "hl7":
        return parse_hl7_stream(text, source=name, tz=tz, local_codes=local_codes,
                                suspect_comments=suspect_comments)
    if kind == "fhir":
        from monitor.ingest.fhir_feed import parse_fhir  # the FHIR models load slowly
        from monitor.ingest.terminology import DEFAULT_TERMS

        return parse_fhir(text, source=name, tz=tz, local_codes=local_codes,
                          suspect_comments=suspect_comments, patients=patients,
                          terms=terms or DEFAULT_TERMS, keep=keep)
    if kind == "json":
        return parse_json_results(text, source=name, tz=tz)
    return parse_csv(text, source=name, tz=tz, keep=keep)


def format_of(name: str, text: str, fmt: str) -> str:
    """`fmt`, or what the text is when `fmt` is auto; ValueError when it cannot be told."""
    return detect_format(name, text[:4096]) if fmt == "auto" else fmt
