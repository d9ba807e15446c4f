"""What Observation and Condition share: validation, codings, and whose record it is."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from monitor.engine.model import PatientRef
from monitor.ingest.checks import Unusable
from monitor.ingest.events import Person
from monitor.ingest.times import parse_iso

Resource = dict[str, Any]  # a FHIR resource as parsed from JSON

_PATIENT_URL = re.compile(r"(?:^|/)Patient/([^/]+)(?:/_history/[^/]+)?$")


def validate(model: type[BaseModel], resource: Resource, label: str) -> None:
    """Validate against the FHIR R4B model; the first error becomes the reject reason."""
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(part) for part in errors[0]["loc"]) or "resource"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise Unusable(f"invalid {label}: {where}: {errors[0]['msg']}{more}") from None


def codings(concept: Any) -> list[tuple[str, str]]:
    """(code, system) pairs of a CodeableConcept, in the sender's order."""
    if not isinstance(concept, dict) or not isinstance(concept.get("coding"), list):
        return []
    return [
        (str(c.get("code") or ""), str(c.get("system") or ""))
        for c in concept["coding"]
        if isinstance(c, dict)
    ]


def identifier_of(patient: Resource) -> PatientRef | None:
    """(system, value) of the Patient's MR identifier, else of its first one."""
    found = [i for i in patient.get("identifier") or [] if isinstance(i, dict) and i.get("value")]
    # Identifier.type uses HL7 table 0203, where MR is the medical record number.
    chosen = next((i for i in found if any(c == "MR" for c, _ in codings(i.get("type")))), None)
    chosen = chosen or (found[0] if found else None)
    if chosen is None:
        return None
    return PatientRef(str(chosen.get("system") or ""), str(chosen["value"]))


def person_of(patient: Resource) -> Person | None:
    """Patient.name (the `official` one, else the first not `old`), birthDate, gender."""
    names = [n for n in patient.get("name") or [] if isinstance(n, dict)]
    chosen = next((n for n in names if n.get("use") == "official"), None) or next(
        (n for n in names if n.get("use") != "old"), None)
    name = None
    if chosen is not None:
        given = " ".join(str(g) for g in chosen.get("given") or [] if g)
        family = str(chosen.get("family") or "").upper()
        name = ", ".join(part for part in (family, given) if part) or (
            str(chosen.get("text") or "") or None)
    try:  # a partial date (1950, 1950-03) is valid FHIR: shown as sent is not worth it here
        birth = date.fromisoformat(str(patient["birthDate"])) if patient.get("birthDate") \
            else None
    except ValueError:
        birth = None
    gender = patient.get("gender")
    person = Person(name, birth, str(gender) if gender else None)
    return person or None


class PatientIndex:
    """Patient resources by every reference that may name them: those of one Bundle or
    stream, on top of `known` (a replay's index of every Patient in all its inputs, so that
    a reference resolves whatever file its Patient came in)."""

    def __init__(self, known: PatientIndex | None = None) -> None:
        self._by_reference: dict[str, PatientRef] = {}
        self._people: dict[PatientRef, Person] = {}
        self._known = known
        # References that named two identifiers: which one a resource gets then depends on
        # the file it is in (its own file's Patient comes first), not only on this index.
        self._ambiguous: set[str] = set()

    def __len__(self) -> int:
        return len(self._by_reference) + (len(self._known) if self._known else 0)

    def person(self, ref: PatientRef) -> Person | None:
        """Who `ref` is, when the feed carried their Patient resource."""
        found = self._people.get(ref)
        return found if found is not None or self._known is None else self._known.person(ref)

    def add(self, patient: Resource, full_url: str | None) -> PatientRef | None:
        """Index a (valid) Patient; returns its identifier, None when it has none."""
        ref = identifier_of(patient)
        if ref is None:
            return None  # references to it fall back to its logical id
        person = person_of(patient)
        if person is not None:
            self._people[ref] = person
        for reference in (f"Patient/{patient['id']}" if patient.get("id") else "", full_url):
            if reference:
                if self._by_reference.get(reference, ref) != ref:
                    self._ambiguous.add(reference)
                self._by_reference[reference] = ref
        return ref

    def _get(self, reference: str) -> PatientRef | None:
        found = self._by_reference.get(reference)
        return found if found is not None or self._known is None else \
            self._known._get(reference)

    def subject(self, resource: Resource) -> PatientRef:
        """subject.identifier, else the referenced Patient's identifier, else its logical id
        (PatientRef("", id): merged into the identified patient once its Patient is seen)."""
        subject = resource.get("subject")
        if not isinstance(subject, dict):
            raise Unusable("no subject (the patient)")
        identifier = subject.get("identifier")
        if isinstance(identifier, dict) and identifier.get("value"):
            return PatientRef(str(identifier.get("system") or ""), str(identifier["value"]))
        reference = subject.get("reference")
        if not isinstance(reference, str) or not reference:
            raise Unusable("subject has neither an identifier nor a reference")
        if reference.startswith("#"):
            return _contained_patient(resource, reference[1:])
        return self.referenced(reference)

    def owner(self, reference: str) -> PatientRef | None:
        """Whose record a "Patient/{id}" subject is in any file of these inputs, found before
        the resource is parsed; None when it depends on the file (see `_ambiguous`)."""
        index: PatientIndex | None = self
        while index is not None:
            if reference in index._ambiguous:
                return None
            index = index._known
        return self.referenced(reference)

    def referenced(self, reference: str) -> PatientRef:
        """The patient a (non-contained) reference names: the Patient's identifier, else its
        logical id."""
        found = self._get(reference)
        if found is not None:
            return found
        match = _PATIENT_URL.search(reference)
        if match is None:
            raise Unusable(f"subject '{reference}' is not a Patient")
        logical_id = match.group(1)
        return self._get(f"Patient/{logical_id}") or PatientRef("", logical_id)


def _contained_patient(resource: Resource, local_id: str) -> PatientRef:
    for inner in resource.get("contained") or []:
        is_patient = isinstance(inner, dict) and inner.get("resourceType") == "Patient"
        if is_patient and inner.get("id") == local_id:
            ref = identifier_of(inner)
            if ref is None:
                raise Unusable(f"contained Patient '#{local_id}' has no identifier")
            return ref
    raise Unusable(f"subject '#{local_id}' names no contained Patient")


# Read by `effective_at`, not by the model: the model refuses a dateTime without an
# offset, which this project reads in the feed's time zone like every other feed.
EFFECTIVE = ("effectiveDateTime", "effectivePeriod", "effectiveInstant", "effectiveTiming")


def effective_at(resource: Resource, tz: ZoneInfo) -> datetime:
    """effectiveDateTime (or effectiveInstant), else effectivePeriod.start; never `issued`."""
    for key in ("effectiveDateTime", "effectiveInstant"):
        if resource.get(key):
            return parse_iso(str(resource[key]), tz, field=key)
    period = resource.get("effectivePeriod")
    if isinstance(period, dict) and period.get("start"):
        return parse_iso(str(period["start"]), tz, field="effectivePeriod.start")
    raise Unusable("no collection time (effectiveDateTime or effectivePeriod.start)")


def effective_period(resource: Resource, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """effectivePeriod as (start, end) when it states both; None otherwise."""
    period = resource.get("effectivePeriod")
    if not isinstance(period, dict) or not period.get("start") or not period.get("end"):
        return None
    start = parse_iso(str(period["start"]), tz, field="effectivePeriod.start")
    end = parse_iso(str(period["end"]), tz, field="effectivePeriod.end")
    return start, end
