"""What an NDJSON line is, read before the line is parsed (most of an export is
Observations, and parsing them is most of a replay's work).

Whose line it is: a replay split by patient across processes parses in each only its own
patients' Observations and Conditions. Only a line whose patient is certain from its text is
left to its owner: one that starts with its resourceType (Observation or Condition), names
one subject with one "Patient/{id}" reference and no identifier (which would come first), and
holds no escape that could spell a key otherwise (\\u) nor a Patient (read into the index by
every process). Any other line is parsed by every process, each keeping its own patients.

Whether it can be ours: an Observation line without a backslash in whose text none of the
codes we follow (nor a local code) appears cannot be one of ours, whatever it holds; it is skipped
like an Observation of another code after parsing (fhir_observation), when it is whole
(brackets balanced, ending with its closing brace): a line cut short is parsed, to be
refused as invalid JSON as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from monitor.ingest.codes import ANALYTES
from monitor.ingest.fhir_common import PatientIndex
from monitor.ingest.fhir_social import DRINKS_PER_DAY, HISTORY_OF_ALCOHOL_USE

_HEAD = re.compile(r'\s*\{\s*"resourceType"\s*:\s*"(?:Observation|Condition)"')
_OBSERVATION = re.compile(r'\s*\{\s*"resourceType"\s*:\s*"Observation"')
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


def not_ours(local_codes: Mapping[str, str]) -> Callable[[str], bool]:
    """True for a whole Observation line whose text names no code we follow (the analytes
    and the alcohol social history). Without a backslash in the line a JSON string is spelt
    as it is, so a LOINC code of ours is there in quotes and a local code (a string, or a
    number read as one) as it is."""
    followed = [*ANALYTES, HISTORY_OF_ALCOHOL_USE, DRINKS_PER_DAY]
    ours = re.compile("|".join([re.escape(f'"{code}"') for code in followed]
                               + [re.escape(code) for code in local_codes if code]))

    def foreign(line: str) -> bool:
        if not _OBSERVATION.match(line) or ours.search(line) or "\\" in line \
                or '"Patient"' in line:
            return False
        ends = line.endswith("}") or line.rstrip().endswith("}")
        return ends and line.count("{") == line.count("}") and line.count("[") == line.count("]")

    return foreign


_CODE = re.compile(r'"code"\s*:\s*\{\s*"coding"\s*:\s*\[([^\]]*)\]')
_CODING = re.compile(r'\{([^{}]*)\}')
_FIELD = {key: re.compile(rf'"{key}"\s*:\s*"([^"]*)"') for key in ("system", "code")}


def codes_in_text(line: str) -> list[tuple[str, str]]:
    """(code, system) of each coding of an Observation's `code`, read from the text of a line
    `not_ours` skipped: counted as codes not used, as they would be had it been parsed."""
    found = _CODE.search(line)
    if found is None:
        return []
    out: dict[tuple[str, str], None] = {}
    for coding in _CODING.findall(found.group(1)):
        code, system = _FIELD["code"].search(coding), _FIELD["system"].search(coding)
        if code and code.group(1):
            out[(code.group(1), system.group(1) if system else "")] = None
    return list(out)
