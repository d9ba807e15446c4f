"""Which diagnosis and social-history codings become diagnosis codes, by terminology.

ICD-10 (WHO, ICD-10-CM and the national systems a hospital names) becomes its normalised
code ("K746"); SNOMED CT becomes "SCT:<concept id>", so that the policy maps it from its own
table and never as an ICD-10 code (monitor.engine.risk). Whether a code is a risk factor is
the policy's to say, not the adapter's: every taken code is passed on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from monitor.engine.policy import SocialHistory
from monitor.engine.risk import SNOMED_PREFIX
from monitor.ingest.codes import is_icd10_system, normalise_icd10

SNOMED_SYSTEM = "http://snomed.info/sct"
# FHIR's URI and OID, and HL7 v2's names for it (table 0396 "SCT"; senders also write these).
_SNOMED_SYSTEMS = frozenset({SNOMED_SYSTEM, "urn:oid:2.16.840.1.113883.6.96", "sct",
                             "snomedct", "snomed-ct", "snomed ct"})


def system_key(system: str) -> str:
    """A code system URI as compared: case and a trailing slash do not matter."""
    return system.strip().rstrip("/").lower()


@dataclass(frozen=True)
class Terminology:
    """What the adapters read beyond the built-in systems: national ICD-10 system URIs
    (SODIUM_ICD10_SYSTEMS) and the policy's alcohol social-history answers."""

    icd10_systems: frozenset[str] = frozenset()  # as system_key gives them
    alcohol_answers: frozenset[tuple[str, str]] = field(
        default_factory=lambda: _answers(SocialHistory().alcohol_answers))
    alcohol_drinks_per_day_above: float | None = SocialHistory().alcohol_drinks_per_day_above

    @classmethod
    def of(cls, icd10_systems: Iterable[str], social: SocialHistory) -> Terminology:
        return cls(frozenset(system_key(s) for s in icd10_systems if s.strip()),
                   _answers(social.alcohol_answers), social.alcohol_drinks_per_day_above)

    def is_icd10(self, system: str) -> bool:
        return is_icd10_system(system) or system_key(system) in self.icd10_systems


def _answers(pairs: Iterable[str]) -> frozenset[tuple[str, str]]:
    """"system|code" -> (system key, code); a bare code matches under any system."""
    out = set()
    for pair in pairs:
        system, _, code = pair.rpartition("|")
        out.add((system_key(system), code.strip()))
    return frozenset(out)


def diagnosis_codes(codings: Iterable[tuple[str, str]], terms: Terminology
                    ) -> tuple[list[str], list[tuple[str, str]]]:
    """(diagnosis codes, distinct) and the (system, code) codings not taken, from a
    resource's (code, system) codings."""
    codes: dict[str, None] = {}
    ignored: dict[tuple[str, str], None] = {}
    for code, system in codings:
        if not code.strip():
            continue
        if terms.is_icd10(system):
            codes[normalise_icd10(code)] = None
        elif system_key(system) in _SNOMED_SYSTEMS:
            codes[SNOMED_PREFIX + code.strip()] = None
        else:
            ignored[(system, code)] = None
    return list(codes), list(ignored)


def answer_counts(codings: Iterable[tuple[str, str]], terms: Terminology) -> bool:
    """Does one of these (code, system) answers count as alcohol use disorder?"""
    return any((system_key(system), code.strip()) in terms.alcohol_answers
               or ("", code.strip()) in terms.alcohol_answers for code, system in codings)


DEFAULT_TERMS = Terminology()
