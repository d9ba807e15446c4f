"""Codes a feed sends that the service reads and does not use, counted per feed.

What counts: an Observation whose code is none we follow (the adapter's UnmappedCode), a
Condition coding in a system we do not read (likewise), a diagnosis code that maps to no
risk factor under the service's policy (SODIUM_POLICY), and the code of a medication that
nothing classifies (not in SODIUM_MEDICATION_MAP, not a known RxNorm ingredient, no text
pattern: stored as unknown; a medication sent with words only is not counted, its words
are no code to map). One counter per (feed, system,
code), added to in the transaction that processes the payload; shown on the admin page and
by `check`, so that an integration engineer sees what is ignored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.engine.policy import Policy
from monitor.engine.risk import FACTOR_NAMES, SNOMED_PREFIX, factors_from_diagnoses
from monitor.engine.treatment import RXNORM_SYSTEM, class_of
from monitor.ingest.events import DiagnosisEvent, Item, MedicationEvent, UnmappedCode
from monitor.ingest.terminology import SNOMED_SYSTEM
from monitor.storage.repos.common import column_length, dialect_insert
from monitor.storage.tables import UnmappedCodeCount

ICD10_LABEL = "ICD-10"  # the system shown for a diagnosis code no risk factor maps
LOCAL_LABEL = "local"  # the system shown for a medication's local code sent without one
_SYSTEM = column_length(UnmappedCodeCount.__table__.c.system)
_CODE = column_length(UnmappedCodeCount.__table__.c.code)


@dataclass(frozen=True)
class Unmapped:
    feed: str
    system: str
    code: str
    seen: int
    last_seen_at: datetime


def unmapped_codes(items: Iterable[Item], policy: Policy,
                   medication_map: Mapping[str, str] | None = None) -> Counter[tuple[str, str]]:
    """(system, code) -> how often these items carry it unused."""
    counts: Counter[tuple[str, str]] = Counter()
    for e in items:
        if isinstance(e, MedicationEvent):
            med = e.medication
            if (med.local_code or med.rxnorm) and \
                    class_of(med, medication_map or {}, policy) is None:
                counts[(med.code_system or LOCAL_LABEL, med.local_code) if med.local_code
                       else (RXNORM_SYSTEM, med.rxnorm or "")] += 1
        elif isinstance(e, UnmappedCode):
            counts[(e.system, e.code)] += e.count
        elif isinstance(e, DiagnosisEvent) and e.diagnosis.code not in FACTOR_NAMES \
                and not factors_from_diagnoses([e.diagnosis.code], policy):
            code = e.diagnosis.code
            if code.startswith(SNOMED_PREFIX):
                counts[(SNOMED_SYSTEM, code.removeprefix(SNOMED_PREFIX))] += 1
            else:
                counts[(ICD10_LABEL, code)] += 1
    return counts


def record_unmapped(session: Session, payloads: Sequence[tuple[str, Sequence[Item]]],
                    policy: Policy, now: datetime,
                    medication_map: Mapping[str, str] | None = None) -> None:
    """Count the unused codes of (feed, items) payloads, in the caller's transaction."""
    total: Counter[tuple[str, str, str]] = Counter()
    for feed, items in payloads:
        for (system, code), n in unmapped_codes(items, policy, medication_map).items():
            # Cut to the columns, without NUL bytes (PostgreSQL stores none): a code that
            # cannot be stored as sent is still worth seeing, and never fails its batch.
            total[(feed, _storable(system, _SYSTEM), _storable(code, _CODE))] += n
    if not total:
        return
    rows = [{"feed": f, "system": s, "code": c, "seen": n, "last_seen_at": now}
            for (f, s, c), n in sorted(total.items())]
    statement = dialect_insert(session)(UnmappedCodeCount).values(rows)
    session.execute(statement.on_conflict_do_update(
        index_elements=["feed", "system", "code"],
        set_={"seen": UnmappedCodeCount.seen + statement.excluded.seen,
              "last_seen_at": statement.excluded.last_seen_at}))


def _storable(text: str, limit: int) -> str:
    return text.replace("\x00", "")[:limit]


def unmapped_list(session: Session, limit: int = 50) -> list[Unmapped]:
    """The most frequent unused codes, by feed."""
    rows = session.execute(select(UnmappedCodeCount).order_by(
        UnmappedCodeCount.seen.desc(), UnmappedCodeCount.feed, UnmappedCodeCount.system,
        UnmappedCodeCount.code).limit(limit)).scalars()
    return [Unmapped(r.feed, r.system, r.code, r.seen, r.last_seen_at) for r in rows]
