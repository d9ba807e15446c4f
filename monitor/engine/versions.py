"""Which version of a result counts, and which versions are refused.

Versions of one result take effect in arrival order (file order in replay, the inbox
sequence in the live service), whatever order they are processed in, so the outcome is a
function of the set of versions alone. HL7 table 0085 / FHIR status semantics:
a correction replaces the earlier value; a final replaces its preliminary; U makes a
preliminary final; D, W, X (entered-in-error, cancelled) leave a tombstone; a preliminary
never overwrites a final or a correction; a final never undoes a correction.

Two kinds of version are refused, that is ignored and reported back to the sender (a
reject), because applying them would silently change what clinicians see:
- after a removal, anything but a correction or a further removal (`RESENT_AFTER_REMOVAL`):
  a lab removes a result on purpose, and a final or preliminary sent again afterwards (an
  interface engine replaying its queue, or a removal that overtook the final it removes)
  must not bring it back; a correction, or a new result id, does;
- for a result whose identity the system inferred from its content (a CSV or JSON row
  without result_id), a different value that neither corrects nor finalises a
  preliminary (`CONFLICTING_DUPLICATE`): the sender did not say it is the same sample, and
  keeping either value silently could hide a nadir.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from monitor.engine.model import ResultStatus

RESENT_AFTER_REMOVAL = "re-sent after removal"
CONFLICTING_DUPLICATE = "conflicting duplicate"


@dataclass(slots=True, eq=True)
class Version:  # not frozen: built per result on the hot path
    arrival_seq: int
    status: ResultStatus
    value_mmol_l: float | None
    collected_at: datetime
    flag: str | None = None  # the laboratory's words when it flagged the specimen
    started_at: datetime | None = None  # a urine output: its interval's start


@dataclass(frozen=True, slots=True)
class Effective:
    """The state of a result once all its versions are applied."""

    status: ResultStatus  # FINAL, PRELIMINARY, CORRECTED or REMOVED
    value_mmol_l: float | None
    collected_at: datetime
    arrival_seq: int  # the version that carries the value (or the tombstone)
    flag: str | None = None  # lab-flagged (the lab's words): shown, never counted
    started_at: datetime | None = None  # a urine output: its interval's start

    @property
    def present(self) -> bool:
        """Not removed and has a value: what the chart shows."""
        return self.status is not ResultStatus.REMOVED and self.value_mmol_l is not None

    @property
    def counted(self) -> bool:
        return self.flag is None and self.present


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused version (by its arrival sequence) and why."""

    arrival_seq: int
    reason: str  # RESENT_AFTER_REMOVAL or CONFLICTING_DUPLICATE
    held_mmol_l: float | None = None  # the value the result keeps (a conflicting duplicate)

    def text(self) -> str:
        """The reason as the sender reads it (a reject line or row)."""
        if self.reason == RESENT_AFTER_REMOVAL:
            return (f"{RESENT_AFTER_REMOVAL}: this result was removed (entered in error or "
                    "cancelled); only a correction (corrected or amended, HL7 OBX-11 C) or "
                    "a new result id brings it back")
        held = "" if self.held_mmol_l is None else f" {self.held_mmol_l:g} mmol/L"
        return (f"{CONFLICTING_DUPLICATE}: a result of the same patient, collection time, "
                f"analyte, method and code already holds{held}; send it as corrected or "
                "amended to replace that value, or with a result_id if it is another sample")


_RANK = {ResultStatus.PRELIMINARY: 0, ResultStatus.FINAL: 1, ResultStatus.CORRECTED: 2}


def refusal(state: Effective | None, ver: Version, inferred: bool = False) -> str | None:
    """Why `ver` is refused on top of `state` (see the module docstring), or None.
    `inferred`: the result's identity was inferred from its content, not sent."""
    if state is None or ver.status is ResultStatus.REMOVED or \
            ver.status is ResultStatus.CORRECTED:
        return None
    if state.status is ResultStatus.REMOVED:
        return RESENT_AFTER_REMOVAL
    if inferred and ver.value_mmol_l is not None and ver.value_mmol_l != state.value_mmol_l \
            and not (ver.status is ResultStatus.FINAL
                     and state.status is ResultStatus.PRELIMINARY):
        return CONFLICTING_DUPLICATE
    return None


def step(state: Effective | None, ver: Version,
         inferred: bool = False) -> tuple[Effective | None, str | None]:
    """The state after `ver`, and why it was refused (None when it was not)."""
    if state is not None:
        reason = refusal(state, ver, inferred)
        if reason is not None:
            return state, reason
    return _apply(state, ver), None


def apply_version(state: Effective | None, ver: Version,
                  inferred: bool = False) -> Effective | None:
    return step(state, ver, inferred)[0]


def resolve(versions: Iterable[Version], inferred: bool = False) -> Effective | None:
    """Apply versions in arrival order; None when nothing usable has arrived."""
    state: Effective | None = None
    for ver in sorted(versions, key=lambda x: x.arrival_seq):
        state = apply_version(state, ver, inferred)
    return state


def refusals(versions: Iterable[Version], inferred: bool = False) -> list[Refusal]:
    """The refused versions to report, in arrival order. A refused version that repeats
    the one before it (the same message sent again) is refused all the same but reported
    once: the live service does not even store a second copy of such a message."""
    state: Effective | None = None
    found: list[Refusal] = []
    previous: Version | None = None
    for ver in sorted(versions, key=lambda x: x.arrival_seq):
        before = state
        state, reason = step(state, ver, inferred)
        if reason is not None and not (previous is not None and repeats(previous, ver)):
            found.append(Refusal(ver.arrival_seq, reason,
                                 None if before is None else before.value_mmol_l))
        previous = ver
    return found


def repeats(earlier: Version, later: Version) -> bool:
    """The same message again: same status, value and collection time."""
    return (earlier.status, earlier.value_mmol_l, earlier.collected_at) == (
        later.status, later.value_mmol_l, later.collected_at)


def _apply(state: Effective | None, ver: Version) -> Effective | None:
    if ver.status is ResultStatus.REMOVED:
        return Effective(ResultStatus.REMOVED, None, ver.collected_at, ver.arrival_seq)
    if ver.status is ResultStatus.MAKE_FINAL:
        if state is not None and state.status is ResultStatus.PRELIMINARY:
            # The value still comes from the preliminary's version: keep its sequence, so
            # storage marks the row that carries the value as current.
            # A flag sent with the U still flags the value it confirms.
            return Effective(ResultStatus.FINAL, state.value_mmol_l, state.collected_at,
                             state.arrival_seq, ver.flag or state.flag, state.started_at)
        return state
    if ver.value_mmol_l is None:
        return state
    new = Effective(ver.status, ver.value_mmol_l, ver.collected_at, ver.arrival_seq, ver.flag,
                    ver.started_at)
    if state is None or state.status is ResultStatus.REMOVED:
        return new  # a correction after a removal brings the result back
    # A later version of lower standing (a preliminary after a final, a final after a
    # correction) is a late or repeated message, not new information.
    if _RANK[ver.status] < _RANK[state.status]:
        return state
    return new
