"""Whose NDJSON line it is, read before the line is parsed: a replay split by patient across
processes parses in each only its own patients' Observations and Conditions (most of an
export, and parsing them is most of a replay's work).

Only a line whose patient is certain from its text is left to its owner: one that starts with
its resourceType (Observation or Condition), names one subject with one "Patient/{id}"
reference and no identifier (which would come first), and holds no escape that could spell a
key otherwise (\\u) nor a Patient (read into the index by every process). Any other line is
parsed by every process, each keeping its own patients, as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from monitor.ingest.fhir_common import PatientIndex

_HEAD = re.compile(r'\s*\{\s*"resourceType"\s*:\s*"(?:Observation|Condition)"')
_SUBJECT = re.compile(r'"subject"\s*:\s*\{([^{}]*)\}')
_REFERENCE = re.compile(r'"reference"\s*:\s*"(Patient/[^"/\\]+)"')


def subject_reference(line: str) -> str | None:
    """The "Patient/{id}" of an Observation or Condition line, None when not certain."""
    if not _HEAD.match(line) or "\\u" in line or '"Patient"' in line \
            or line.count('"subject"') != 1:
        return None
    subject = _SUBJECT.search(line)
    if subject is None or '"identifier"' in subject.group(1) \
            or subject.group(1).count('"reference"') != 1:
        return None
    reference = _REFERENCE.search(subject.group(1))
    return reference.group(1) if reference else None


def others_lines(keep: Callable[[str], bool], patients: PatientIndex) -> Callable[[str], bool]:
    """True for a line certainly of a patient `keep` (by identifier) leaves to another
    process; `patients` must hold every Patient of the inputs (a replay's index)."""
    decided: dict[str, bool] = {}  # by reference: a patient has hundreds of lines

    def others(line: str) -> bool:
        reference = subject_reference(line)
        if reference is None:
            return False
        if reference not in decided:
            owner = patients.owner(reference)
            decided[reference] = owner is not None and not keep(owner.identifier)
        return decided[reference]

    return others
