"""FHIR Specimen resources of one Bundle or file, for the condition the lab recorded.

An Observation names its specimen by reference (`Observation.specimen`): a contained
Specimen ("#id"), or one elsewhere in the same Bundle or file ("Specimen/id" or an entry's
fullUrl). Only `Specimen.condition` is read here (HL7 table 0493, CodeSystem v2-0493).
"""

from __future__ import annotations

import re

from monitor.ingest.fhir_common import Resource
from monitor.ingest.flags import CONTAMINATED, SPECIMEN_CONDITION_SYSTEM, condition_words

_SPECIMEN_URL = re.compile(r"(?:^|/)Specimen/([^/]+)(?:/_history/[^/]+)?$")


class SpecimenIndex:
    """Specimen resources by every reference that may name them."""

    def __init__(self) -> None:
        self._by_reference: dict[str, Resource] = {}

    def add(self, specimen: Resource, full_url: str | None) -> None:
        if specimen.get("id"):
            self._by_reference[f"Specimen/{specimen['id']}"] = specimen
        if full_url:
            self._by_reference[full_url] = specimen

    def of(self, observation: Resource) -> Resource | None:
        """The Specimen `observation.specimen` refers to, when this feed holds it."""
        reference = observation.get("specimen")
        target = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(target, str) or not target:
            return None
        if target.startswith("#"):
            return next((r for r in observation.get("contained") or [] if isinstance(r, dict)
                         and r.get("resourceType") == "Specimen"
                         and r.get("id") == target[1:]), None)
        if target in self._by_reference:
            return self._by_reference[target]
        match = _SPECIMEN_URL.search(target)
        return self._by_reference.get(f"Specimen/{match.group(1)}") if match else None


def contaminated_words(specimen: Resource | None) -> list[str]:
    """How the lab said the specimen is contaminated: one entry per CON condition."""
    words: list[str] = []
    conditions = specimen.get("condition") if specimen is not None else None
    for concept in conditions if isinstance(conditions, list) else []:
        if not isinstance(concept, dict):
            continue
        for coding in concept.get("coding") or []:
            if not isinstance(coding, dict):
                continue
            system = coding.get("system")
            if str(coding.get("code") or "").strip().upper() == CONTAMINATED and \
                    system in (None, "", SPECIMEN_CONDITION_SYSTEM):
                words.append(condition_words(CONTAMINATED, str(
                    concept.get("text") or coding.get("display") or "")))
                break
    return words
