"""Run a replay, split by patient across processes when the input is large.

Patients are independent, so each process reads every input and keeps only its own
patients; CSV rows and FHIR NDJSON lines whose patient is certain from their text are left
unparsed by the other processes (monitor.ingest.fhir_split), the rest is parsed by all. An
ADT^A40 merge between two partitions makes the run start over in one process. The FHIR
Patients of all inputs are read first, so that a "Patient/x" reference names the same
patient whichever file holds the Patient (a Bulk Data export has one file per resource type).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from monitor.engine.policy import Policy
from monitor.ingest.dispatch import format_of, parse_text
from monitor.ingest.events import Reject
from monitor.ingest.flags import DEFAULT_SUSPECT_COMMENTS
from monitor.ingest.terminology import Terminology
from monitor.services.replay.replayer import Replay, SplitMerge

if TYPE_CHECKING:
    from monitor.ingest.fhir_common import PatientIndex

PARALLEL_MIN_CHARS = 8 << 20  # below this, starting processes costs more than it saves
Inputs = Sequence[tuple[str, str]]


@dataclass
class Outcome:
    alerts: list[dict[str, Any]]
    rejects: list[Reject]
    results: int
    # (system, code) -> how often it was seen and not used (services.intake.unmapped)
    unused: Counter[tuple[str, str]] = field(default_factory=Counter)
    # A part of a split run: its codes not used by where they were seen (joined once).
    unused_at: set[tuple[str, str, str]] = field(default_factory=set)


def fhir_patients(inputs: Inputs, fmt: str) -> PatientIndex | None:
    """The Patient resources of every FHIR input, or None when none is FHIR."""
    def is_fhir(name: str, text: str) -> bool:
        try:
            return format_of(name, text, fmt) == "fhir"
        except ValueError:
            return False

    texts = [text for name, text in inputs if is_fhir(name, text)]
    if not texts:
        return None
    from monitor.ingest.fhir_feed import index_patients  # the FHIR models load slowly

    return index_patients(texts)


def run_part(inputs: Inputs, fmt: str, tz: ZoneInfo, policy: Policy, part: int = 0,
             parts: int = 1, progress: Callable[[int], object] | None = None,
             suspect_comments: tuple[str, ...] = DEFAULT_SUSPECT_COMMENTS,
             patients: PatientIndex | None = None,
             authorities: Mapping[str, str] | None = None,
             icd10_systems: tuple[str, ...] = (),
             medication_map: Mapping[str, str] | None = None) -> Outcome:
    """`patients`: see `fhir_patients` (read here when not given); `authorities`: alias ->
    canonical assigning authority (SODIUM_PATIENT_AUTHORITIES); `icd10_systems`: national
    ICD-10 system URIs (SODIUM_ICD10_SYSTEMS); `medication_map`: local medication code ->
    class (SODIUM_MEDICATION_MAP)."""
    patients = patients if patients is not None else fhir_patients(inputs, fmt)
    terms = Terminology.of(icd10_systems, policy.social_history)
    run = Replay(policy, part=part, parts=parts, tz=tz,
                 medication_map=dict(medication_map or {}))
    # A replay builds millions of long-lived, acyclic objects: the cyclic collector would
    # rescan them again and again for nothing (it is re-enabled at once afterwards).
    collecting = gc.isenabled()
    gc.disable()
    try:
        for name, text in inputs:
            keep = run.owns if parts > 1 else None
            for item in parse_text(name, text, fmt, tz, keep=keep,
                                   suspect_comments=suspect_comments, patients=patients,
                                   authorities=authorities, terms=terms):
                run.apply(item)
            if progress:
                progress(len(text))
        return Outcome(list(run.alerts()), run.rejects, run.results, run.unused, run.unused_at)
    finally:
        if collecting:
            gc.enable()


def _child(conn: Connection, inputs: Inputs, fmt: str, tz: ZoneInfo, policy: Policy,
           part: int, parts: int, suspect_comments: tuple[str, ...],
           patients: PatientIndex | None, authorities: Mapping[str, str] | None,
           icd10_systems: tuple[str, ...], medication_map: Mapping[str, str] | None) -> None:
    try:
        conn.send(run_part(inputs, fmt, tz, policy, part, parts,
                           suspect_comments=suspect_comments, patients=patients,
                           authorities=authorities, icd10_systems=icd10_systems,
                           medication_map=medication_map))
    except SplitMerge:
        conn.send(None)
    finally:
        conn.close()


def replay(inputs: Inputs, fmt: str, tz: ZoneInfo, policy: Policy,
           progress: Callable[[int], object] | None = None,
           processes: int | None = None,
           suspect_comments: tuple[str, ...] = DEFAULT_SUSPECT_COMMENTS,
           authorities: Mapping[str, str] | None = None,
           icd10_systems: tuple[str, ...] = (),
           medication_map: Mapping[str, str] | None = None) -> Outcome:
    """The final alerts (sorted by patient, then trigger time), rejects and result count."""
    parts = processes or min(os.cpu_count() or 1, 4)
    if parts <= 1 or sum(len(t) for _, t in inputs) < PARALLEL_MIN_CHARS:
        return run_part(inputs, fmt, tz, policy, progress=progress,
                        suspect_comments=suspect_comments, authorities=authorities,
                        icd10_systems=icd10_systems, medication_map=medication_map)
    patients = fhir_patients(inputs, fmt)  # read once, shared with the children
    context = multiprocessing.get_context("fork")  # inputs are shared, not copied
    pipes, children = [], []
    for part in range(parts):
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_child, args=(sender, inputs, fmt, tz, policy, part,
                                                     parts, suspect_comments, patients,
                                                     authorities, icd10_systems,
                                                     medication_map))
        child.start()
        sender.close()
        pipes.append(receiver)
        children.append(child)
    outcomes = [pipe.recv() for pipe in pipes]
    for child in children:
        child.join()
    if any(o is None for o in outcomes):
        return run_part(inputs, fmt, tz, policy, progress=progress,
                        suspect_comments=suspect_comments, patients=patients,
                        authorities=authorities, icd10_systems=icd10_systems,
                        medication_map=medication_map)
    if progress:
        progress(sum(len(t) for _, t in inputs))
    alerts = sorted((a for o in outcomes for a in o.alerts),
                    key=lambda a: (a["patient_authority"], a["patient_id"], a["triggered_at"],
                                   a["rule"]))
    return Outcome(alerts, _joined_rejects(inputs, outcomes), sum(o.results for o in outcomes),
                   sum((o.unused for o in outcomes), Counter())
                   + Counter((system, code) for _, system, code
                             in set().union(*(o.unused_at for o in outcomes))))


def _joined_rejects(inputs: Inputs, outcomes: list[Outcome]) -> list[Reject]:
    """Every partition reports the rejects it saw: keep each once, in input and line order."""
    order = {name: index for index, (name, _) in enumerate(inputs)}

    def place(r: Reject) -> tuple[int, int, str]:
        name, _, rest = r.position.rpartition(":")
        line = int(rest.split()[0]) if rest.split() and rest.split()[0].isdigit() else 0
        return (order.get(name, len(order)), line, r.position)

    unique = {(r.position, r.reason): r for o in outcomes for r in o.rejects}
    return sorted(unique.values(), key=place)
