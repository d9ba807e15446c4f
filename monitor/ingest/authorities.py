"""One name per assigning authority: the same MRN arrives as HL7 PID-3 with the namespace
in CX.4 ("HOSP") and as a FHIR identifier with a system URI ("urn:oid:1.2.3"); without a
common name the same person would be two patients. The hospital names the aliases
(SODIUM_PATIENT_AUTHORITIES, alias=canonical); every feed's patients are keyed by the
canonical name, live and in replay alike."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from monitor.engine.model import PatientRef
from monitor.ingest.events import Item, MergeEvent, PatientLinkEvent, Reject, UnmappedCode


def parse_aliases(text: str) -> dict[str, str]:
    """"HOSP=urn:oid:1.2.3, LAB=urn:oid:1.2.3" -> {alias: canonical}; ValueError in words."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        alias, sep, canonical = (x.strip() for x in part.partition("="))
        if not sep or not alias or not canonical:
            raise ValueError(f"{part!r}: expected alias=canonical (e.g. HOSP=urn:oid:1.2.3)")
        out[alias] = canonical
    return out


def _named(ref: PatientRef, aliases: Mapping[str, str]) -> PatientRef:
    canonical = aliases.get(ref.authority)
    return ref if canonical is None else PatientRef(canonical, ref.identifier)


def canonical_patients(items: Iterable[Item], aliases: Mapping[str, str]) -> list[Item]:
    """The items with each patient's authority under its canonical name."""
    if not aliases:
        return list(items)
    out: list[Item] = []
    for e in items:
        if isinstance(e, Reject | UnmappedCode):
            out.append(e)
        elif isinstance(e, MergeEvent):
            out.append(dataclasses.replace(e, survivor=_named(e.survivor, aliases),
                                           old=_named(e.old, aliases)))
        elif isinstance(e, PatientLinkEvent):
            out.append(dataclasses.replace(e, patient=_named(e.patient, aliases)))
        else:
            named = _named(e.patient, aliases)
            out.append(e if named is e.patient else dataclasses.replace(e, patient=named))
    return out
