"""When and to whom an unacknowledged alert goes next. Pure: `now` is an argument.

First notification: at once, to the ward's nurses (never held back for a critical alert).
Unacknowledged after `escalate_after` (critical 10 min, warning 30 min by default, per
ward): to the on-call physician for that ward at that moment. Then again every
`repeat_every` (default 10 min) until acknowledged. No one on call: the ward's fallback
contact, and a NO_ON_CALL warning to admins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class WardTiming:
    escalate_critical_after: timedelta = timedelta(minutes=10)
    escalate_warning_after: timedelta = timedelta(minutes=30)
    repeat_every: timedelta = timedelta(minutes=10)

    def escalate_after(self, severity: str) -> timedelta:
        return self.escalate_critical_after if severity == "critical" \
            else self.escalate_warning_after


@dataclass(frozen=True, slots=True)
class Step:
    event: str  # escalated / repeated
    level: int  # 1 = on-call physician reached
    next_at: datetime  # when the following step is due


def first_due(raised_at: datetime, severity: str, timing: WardTiming) -> datetime:
    """When the escalation timer of a newly raised alert runs out."""
    return raised_at + timing.escalate_after(severity)


def next_step(level: int, due_at: datetime, now: datetime, timing: WardTiming) -> Step | None:
    """The step to take now for an alert still unacknowledged, or None if not yet due.

    A scheduler that was down for a while catches up with one step, not a burst.
    """
    if now < due_at:
        return None
    event = "escalated" if level == 0 else "repeated"
    return Step(event, 1, now + timing.repeat_every)
