"""Which version of a result counts.

Versions of one result take effect in arrival order (file order in replay, the inbox
sequence in the live service), whatever order they are processed in, so the outcome is a
function of the set of versions alone. HL7 table 0085 / FHIR status semantics:
a correction replaces the earlier value; a final replaces its preliminary; U makes a
preliminary final; D, W, X (entered-in-error, cancelled) leave a tombstone; a preliminary
never overwrites a final or a correction; a final never undoes a correction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from monitor.engine.model import ResultStatus


@dataclass(slots=True, eq=True)
class Version:  # not frozen: built per result on the hot path
    arrival_seq: int
    status: ResultStatus
    value_mmol_l: float | None
    collected_at: datetime
    flag: str | None = None  # the laboratory's words when it flagged the specimen


@dataclass(frozen=True, slots=True)
class Effective:
    """The state of a result once all its versions are applied."""

    status: ResultStatus  # FINAL, PRELIMINARY, CORRECTED or REMOVED
    value_mmol_l: float | None
    collected_at: datetime
    arrival_seq: int  # the version that carries the value (or the tombstone)
    flag: str | None = None  # lab-flagged (the lab's words): shown, never counted

    @property
    def present(self) -> bool:
        """Not removed and has a value: what the chart shows."""
        return self.status is not ResultStatus.REMOVED and self.value_mmol_l is not None

    @property
    def counted(self) -> bool:
        return self.flag is None and self.present


_RANK = {ResultStatus.PRELIMINARY: 0, ResultStatus.FINAL: 1, ResultStatus.CORRECTED: 2}


def resolve(versions: Iterable[Version]) -> Effective | None:
    """Apply versions in arrival order; None when nothing usable has arrived."""
    state: Effective | None = None
    for ver in sorted(versions, key=lambda x: x.arrival_seq):
        state = apply_version(state, ver)
    return state


def apply_version(state: Effective | None, ver: Version) -> Effective | None:
    if ver.status is ResultStatus.REMOVED:
        return Effective(ResultStatus.REMOVED, None, ver.collected_at, ver.arrival_seq)
    if ver.status is ResultStatus.MAKE_FINAL:
        if state is not None and state.status is ResultStatus.PRELIMINARY:
            # The value still comes from the preliminary's version: keep its sequence, so
            # storage marks the row that carries the value as current.
            # A flag sent with the U still flags the value it confirms.
            return Effective(ResultStatus.FINAL, state.value_mmol_l, state.collected_at,
                             state.arrival_seq, ver.flag or state.flag)
        return state
    if ver.value_mmol_l is None:
        return state
    new = Effective(ver.status, ver.value_mmol_l, ver.collected_at, ver.arrival_seq, ver.flag)
    if state is None or state.status is ResultStatus.REMOVED:
        return new
    # A later version of lower standing (a preliminary after a final, a final after a
    # correction) is a late or repeated message, not new information.
    if _RANK[ver.status] < _RANK[state.status]:
        return state
    return new
