"""Stays: a standing alert (a sodium band, SEVERE_HYPONATREMIA or HYPERNATREMIA) holds for
one stay, so a readmission with the same finding is a new alert, not the continuation of
one that spans March to May.

A stay ends at a discharge (HL7 ADT^A03; its EVN time, else the latest sodium known then)
or, where the feed sends no ADT, when no counted sodium is collected for longer than
`episodes.gap_hours` (72 h): it then ended `gap_hours` after the last sodium before the gap,
as an episode does (engine.episodes). Project definitions (docs/clinical-rules.md).

A stay end, once seen, is kept (`PatientLedger.stay_ended_at`) and is final: a result that
arrives late, collected before it, neither reopens the stay nor raises a standing alert.
Only the latest end matters: what was collected up to it belongs to a stay that is over.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.engine.policy import Policy
from monitor.engine.rules import HYPERNATREMIA, SEVERE_HYPONATREMIA
from monitor.engine.windows import HOUR
from monitor.engine.wording import clock
from monitor.engine.wording import number as _n

STANDING_RULES = frozenset({SEVERE_HYPONATREMIA, HYPERNATREMIA})


@dataclass(frozen=True, slots=True)
class StayEnd:
    at: float  # epoch seconds: what was collected up to here belongs to the ended stay
    reason: str  # why a standing alert of that stay closed, in the words the pages show


def latest_gap(times: Sequence[float], since: float, policy: Policy,
               before: float | None = None) -> StayEnd | None:
    """The end of the latest gap in the counted sodium `times` (sorted, epoch seconds)
    longer than the episode gap, when that end lies after `since`; None otherwise.
    `before`: the last counted sodium before `times` (storage loads a recent part)."""
    gap = policy.episodes.gap_hours * HOUR
    # Backwards from the latest sodium: the first gap found is the latest.
    for i in range(len(times) - 1, bisect_left(times, since - gap), -1):
        if times[i] - times[i - 1] > gap:
            return _gap(times[i - 1], policy)
    if before is not None and times and times[0] - before > gap and before + gap >= since:
        return _gap(before, policy)
    return None


def _gap(last: float, policy: Policy) -> StayEnd:
    return StayEnd(last + policy.episodes.gap_hours * HOUR, (
        f"stay ended: no sodium for more than {_n(policy.episodes.gap_hours)} h "
        f"after {clock(last)}"))


def discharged(at: datetime) -> str:
    """Why a standing alert closed at a discharge."""
    return f"patient discharged at {clock(at.astimezone(UTC))}: the stay ended"


def ended(at: datetime) -> str:
    """Why a standing alert closed at a stay end seen before (its reason told then)."""
    return f"stay ended at {clock(at.astimezone(UTC))}"
