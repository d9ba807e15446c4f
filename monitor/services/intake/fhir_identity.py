"""FHIR patient identity across payloads: a "Patient/{id}" reference names the patient its
Patient resource identifies, whichever payload or file carried that resource.

The parser resolves what its own payload holds; what it could not is keyed by the bare
logical id (PatientRef("", id)). Here such keys are resolved through the links learnt from
every Patient seen before (fhir_patient_links): at intake, so the inbox orders the row with
the patient's other rows, and again in the worker, since the Patient may have arrived in
between. A patient already keyed by the bare id merges when its Patient arrives
(evaluation.processing, PatientLinkEvent).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from monitor.engine.model import PatientRef
from monitor.ingest.events import NOT_ONE_PATIENT, Item, PatientLinkEvent, Reject
from monitor.storage.repos.patients import fhir_links


def _bare_ids(items: Sequence[Item]) -> set[str]:
    return {e.patient.identifier for e in items
            if not isinstance(e, NOT_ONE_PATIENT)
            and not e.patient.authority}


def resolve(items: Sequence[Item], links: Mapping[str, PatientRef]) -> list[Item]:
    """The items with every bare-id patient that `links` knows replaced by its identifier."""
    out: list[Item] = []
    for e in items:
        if isinstance(e, NOT_ONE_PATIENT) or e.patient.authority:
            out.append(e)
            continue
        known = links.get(e.patient.identifier)
        out.append(e if known is None else dataclasses.replace(e, patient=known))
    return out


def relink_refused(link: PatientLinkEvent, stored: PatientRef) -> Reject:
    """A Patient whose id is already linked to another identifier: never re-keys or merges
    people on a second identity."""
    return Reject(link.position, f"Patient/{link.reference.identifier} is already patient "
                  f"{stored} here; this Patient resource names {link.patient}: not linked "
                  "(correct the identifiers at the source, or merge with ADT^A40)")


def resolve_payloads(session: Session, payloads: Sequence[Sequence[Item]]
                     ) -> list[list[Item]]:
    """Each FHIR payload's items resolved through the stored links and the links of these
    payloads themselves; a Patient that contradicts a stored link becomes a Reject."""
    wanted = {fid for items in payloads for fid in _bare_ids(items)} | {
        e.reference.identifier for items in payloads for e in items
        if isinstance(e, PatientLinkEvent)}
    if not wanted:
        return [list(items) for items in payloads]
    stored = fhir_links(session, wanted)
    links = dict(stored)
    checked: list[list[Item]] = []
    for items in payloads:
        kept: list[Item] = []
        for e in items:
            if isinstance(e, PatientLinkEvent):
                known = stored.get(e.reference.identifier)
                if known is not None and known != e.patient:
                    kept.append(relink_refused(e, known))
                    continue
                links.setdefault(e.reference.identifier, e.patient)
            kept.append(e)
        checked.append(kept)
    return [resolve(items, links) for items in checked]
