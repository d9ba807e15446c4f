"""What an NDJSON line is, read before the line is parsed (most of an export is
Observations, and parsing them is most of a replay's work).

Whose line it is: a replay split by patient across processes parses in each only its own
patients' Observations and Conditions. Only a line whose patient is certain from its text is
left to its owner: one that starts with its resourceType (Observation or Condition), names
one subject with one "Patient/{id}" reference and no identifier (which would come first), and
holds no escape that could spell a key otherwise (\\u) nor a Patient (read into the index by
every process). Any other line is parsed by every process, each keeping its own patients.

Whether it can be ours: an Observation line without a backslash or components whose
`code` codings, read from its text, name none of the codes we follow (nor a local code, looked
for anywhere in the line) cannot be one of ours; it is skipped like an Observation of another
code after parsing (fhir_observation), its codes counted as not used, when it is whole
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


def lines_owner(keep: Callable[[str], bool], patients: PatientIndex
                ) -> Callable[[str], bool | None]:
    """Whose a line is, for a replay split by patient: True when certainly a patient `keep`
    (by identifier) takes, False when certainly one it leaves to another process, None when
    not certain (every process reads it); `patients` must hold every Patient of the inputs
    (a replay's index)."""
    decided: dict[str, bool | None] = {}  # by reference: a patient has hundreds of lines

    def owner(line: str) -> bool | None:
        reference = subject_reference(line)
        if reference is None:
            return None
        if reference not in decided:
            found = patients.owner(reference)
            decided[reference] = None if found is None else keep(found.identifier)
        return decided[reference]

    return owner


def not_ours(local_codes: Mapping[str, str]) -> Callable[[str], list[tuple[str, str]] | None]:
    """For a whole Observation line whose `code` names no code we follow (the analytes, the
    alcohol social history, a local code), its codings as (code, system), to be counted as
    codes not used; None for any other line, which is parsed. Without a backslash in the
    line a JSON string is spelt as it is; a line with components (whose codes sit in keys
    named "code" too) or whose codes cannot be read from the text is parsed."""
    followed = frozenset([*ANALYTES, HISTORY_OF_ALCOHOL_USE, DRINKS_PER_DAY, *local_codes])
    # A local code may be a number (read as a string when parsed): looked for as it is.
    local = re.compile("|".join(re.escape(c) for c in local_codes if c)) if any(
        local_codes) else None

    def foreign(line: str) -> list[tuple[str, str]] | None:
        if not _OBSERVATION.match(line) or "\\" in line or '"Patient"' in line \
                or '"component"' in line or (local is not None and local.search(line)):
            return None
        whole = line.rstrip().endswith("}") and line.count("{") == line.count("}") \
            and line.count("[") == line.count("]")
        codes = codes_in_text(line) if whole else []
        if not codes or any(code in followed for code, _ in codes):
            return None
        return codes

    return foreign


_CODE = re.compile(r'"code"\s*:\s*\{\s*"coding"\s*:\s*\[')
_CODE_SPELT = ('"code": {"coding": [', '"code":{"coding":[')  # found faster as they are
_CODING = re.compile(r'\s*\{([^{}]*)\}\s*(,?)')
_FIELD = {key: re.compile(rf'"{key}"\s*:\s*"([^"]*)"') for key in ("system", "code")}


def codes_in_text(line: str) -> list[tuple[str, str]]:
    """(code, system) of each coding of an Observation's `code`, read from the text of a line
    `not_ours` skipped: counted as codes not used, as they would be had it been parsed."""
    at = -1
    for spelt in _CODE_SPELT:
        if (at := line.find(spelt)) >= 0:
            at += len(spelt)
            break
    if at < 0:
        found = _CODE.search(line)
        if found is None:
            return []
        at = found.end()
    out: dict[tuple[str, str], None] = {}
    while (coding := _CODING.match(line, at)) is not None:  # the codings, one by one
        code, system = _FIELD["code"].search(coding[1]), _FIELD["system"].search(coding[1])
        if code and code.group(1):
            out[(code.group(1), system.group(1) if system else "")] = None
        if not coding[2]:
            break
        at = coding.end()
    return list(out)
