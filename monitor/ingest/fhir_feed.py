"""FHIR feeds: a resource, a Bundle, or NDJSON -> events.

Patient resources are read first, whatever their place in the feed, so that an Observation
referring to "Patient/x" or to a Bundle entry's fullUrl is keyed by that Patient's
identifier rather than by the sender's logical id. A replay reads the Patients of all its
inputs first (`index_patients`: a Bulk Data export has them in a file of their own); live,
each Patient becomes a PatientLinkEvent, stored, through which later payloads resolve.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from fhir.resources.R4B.patient import Patient

from monitor.engine.model import PatientRef
from monitor.ingest.checks import Unusable
from monitor.ingest.events import Item, PatientLinkEvent, Reject, UnmappedCode
from monitor.ingest.fhir_common import PatientIndex, Resource, validate
from monitor.ingest.fhir_condition import condition_items
from monitor.ingest.fhir_medication import MEDICATION_TYPES, medication_items
from monitor.ingest.fhir_observation import observation_items
from monitor.ingest.fhir_specimen import SpecimenIndex
from monitor.ingest.fhir_split import lines_owner, not_ours
from monitor.ingest.flags import DEFAULT_SUSPECT_COMMENTS
from monitor.ingest.json_bounds import NotUsableJson, load_json
from monitor.ingest.terminology import DEFAULT_TERMS, Terminology


@dataclass(frozen=True, slots=True)
class _Entry:
    resource: Resource
    position: str
    full_url: str | None


def parse_fhir(
    text: str, *, source: str, tz: ZoneInfo, local_codes: Mapping[str, str] | None = None,
    suspect_comments: tuple[str, ...] = DEFAULT_SUSPECT_COMMENTS,
    patients: PatientIndex | None = None, terms: Terminology = DEFAULT_TERMS,
    keep: Callable[[str], bool] | None = None,
) -> Iterator[Item]:
    """A single resource, a Bundle (any type) or NDJSON (one resource per line);
    `patients`: Patients read beforehand from all the inputs (see `index_patients`);
    `terms`: national ICD-10 systems and the alcohol answers that count;
    `keep`, given with them: NDJSON lines certainly of patients it refuses (by identifier)
    are skipped unparsed (a replay split by patient; others are filtered after parsing), as
    are whole Observation lines that name no code we follow (monitor.ingest.fhir_split),
    whose codes are counted from their text."""
    foreign = not_ours(local_codes or {})
    owner = lines_owner(keep, patients) if keep is not None and patients is not None else None
    unread: Counter[tuple[str, str]] = Counter()

    def skip(line: str, position: str) -> bool:
        whose = None if owner is None else owner(line)
        if whose is False:
            return True  # its owner reads it, and counts its codes
        codes = foreign(line)
        if codes is None:
            return False
        # Tallied once in a split replay: by the line's owner, or by the process a line
        # every process reads falls to by its position.
        if keep is None or whose is True or keep(position):
            unread.update(codes)
        return True

    found: list[_Entry | Reject] = []
    for document in _documents(text.lstrip("\ufeff"), source, skip):
        found.extend([document] if isinstance(document, Reject) else _flatten(*document))
    yield from (UnmappedCode(system, code, f"{source} (lines left unread)", n, True)
                for (code, system), n in sorted(unread.items()))
    yield from _items(found, tz, local_codes or {}, suspect_comments, patients, terms)


def parse_fhir_resource(
    obj: dict[str, Any],
    *,
    position: str,
    tz: ZoneInfo,
    local_codes: Mapping[str, str] | None = None,
    suspect_comments: tuple[str, ...] = DEFAULT_SUSPECT_COMMENTS,
    terms: Terminology = DEFAULT_TERMS,
) -> list[Item]:
    """One resource (a Bundle is expanded), e.g. from a FHIR REST request body."""
    return list(_items(list(_flatten(obj, position)), tz, local_codes or {}, suspect_comments,
                       terms=terms))


def index_patients(texts: Iterable[str]) -> PatientIndex:
    """Every valid Patient resource of these FHIR inputs, whatever file it is in."""
    index = PatientIndex()
    for text in texts:
        text = text.lstrip("\ufeff")
        if _ndjson(text):  # only the lines that may be a Patient are parsed
            text = "\n".join(line for line in text.split("\n") if '"Patient"' in line)
        documents = _documents(text, "")
        for document in documents:
            if isinstance(document, Reject):
                continue
            for entry in _flatten(*document):
                if isinstance(entry, _Entry) and entry.resource["resourceType"] == "Patient" \
                        and _valid_patient(entry) is None:
                    index.add(entry.resource, None)
    return index


def _ndjson(text: str) -> bool:
    head = text.lstrip()[:4096].split("\n", 1)[0].strip()
    return head.startswith("{") and head.endswith("}")


def _valid_patient(entry: _Entry) -> Reject | None:
    try:
        validate(Patient, entry.resource, "Patient")
    except Unusable as exc:
        return Reject(entry.position, str(exc), json.dumps(entry.resource))
    return None


def _documents(text: str, source: str, skip: Callable[[str, str], bool] | None = None
               ) -> Iterator[tuple[Any, str] | Reject]:
    """(parsed JSON, position) per document, or a Reject for invalid JSON; `skip`: NDJSON
    lines to leave unread."""
    lines = [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
    if len(lines) > 1 and _is_json(lines[0][1]):
        for number, line in lines:  # NDJSON
            if skip is not None and skip(line, f"{source}:{number}"):
                continue
            try:
                yield load_json(line), f"{source}:{number}"
            except NotUsableJson as exc:
                yield Reject(f"{source}:{number}", f"invalid JSON: {_why(exc)}", line)
    elif lines:
        try:
            yield load_json(text), source
        except NotUsableJson as exc:
            yield Reject(f"{source}:{exc.line}", f"invalid JSON: {_why(exc)}", text[:2000])


def _why(error: NotUsableJson) -> str:
    return str(error).removeprefix("not JSON: ")


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def _flatten(obj: Any, position: str, full_url: str | None = None) -> Iterator[_Entry | Reject]:
    if isinstance(obj, list):  # a JSON array of resources
        for index, inner in enumerate(obj):
            yield from _flatten(inner, f"{position}[{index}]")
        return
    if not isinstance(obj, dict) or not isinstance(obj.get("resourceType"), str):
        yield Reject(position, "not a FHIR resource (no resourceType)", json.dumps(obj)[:2000])
        return
    if obj["resourceType"] != "Bundle":
        resource_id = f" ({obj['resourceType']}/{obj['id']})" if obj.get("id") else ""
        yield _Entry(obj, position + resource_id, full_url)
        return
    entries = obj.get("entry") or []
    if not isinstance(entries, list):
        yield Reject(f"{position} entry", "Bundle.entry is not a list", json.dumps(entries)[:2000])
        return
    for index, entry in enumerate(entries):
        where = f"{position} entry[{index}]"
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
            yield from _flatten(entry["resource"], where, entry.get("fullUrl"))
        else:
            request = entry.get("request") if isinstance(entry, dict) else None
            hint = f" ({request.get('method')} {request.get('url')})" if request else ""
            yield Reject(where, f"Bundle entry without a resource{hint}", json.dumps(entry))


def _items(
    found: list[_Entry | Reject], tz: ZoneInfo, local_codes: Mapping[str, str],
    suspect_comments: tuple[str, ...] = DEFAULT_SUSPECT_COMMENTS,
    known: PatientIndex | None = None, terms: Terminology = DEFAULT_TERMS,
) -> Iterator[Item]:
    patients = PatientIndex(known)
    specimens = SpecimenIndex()  # read for their condition only, like Patient first
    invalid: dict[int, Reject] = {}
    links: dict[int, PatientLinkEvent] = {}
    for index, entry in enumerate(found):
        if isinstance(entry, _Entry) and entry.resource["resourceType"] == "Specimen":
            specimens.add(entry.resource, entry.full_url)
        if isinstance(entry, _Entry) and entry.resource["resourceType"] == "Patient":
            problem = _valid_patient(entry)
            if problem is not None:
                invalid[index] = problem
                continue
            ref = patients.add(entry.resource, entry.full_url)
            if ref is not None and entry.resource.get("id"):
                links[index] = PatientLinkEvent(PatientRef("", str(entry.resource["id"])),
                                                ref, entry.position, patients.person(ref))
    for index, entry in enumerate(found):
        if isinstance(entry, Reject):
            yield entry
            continue
        kind = entry.resource["resourceType"]
        if kind == "Observation":
            yield from observation_items(entry.resource, entry.position, patients, tz,
                                         local_codes, specimens, suspect_comments, terms)
        elif kind == "Condition":
            yield from condition_items(entry.resource, entry.position, patients, tz, terms)
        elif kind in MEDICATION_TYPES:
            yield from medication_items(entry.resource, entry.position, patients, tz)
        elif index in invalid:
            yield invalid[index]
        elif index in links:
            yield links[index]
        # Other resource types (Encounter, Practitioner, ...) are not ours: ignored.
