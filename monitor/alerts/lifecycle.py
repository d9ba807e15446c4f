"""The alert lifecycle, modelled on ISA-18.2 alarm states. Pure: `now` is an argument.

    unacknowledged --acknowledge--> acknowledged --resolve--> resolved
    unacknowledged --condition gone--> cleared-unacknowledged --acknowledge--> resolved
    unacknowledged / acknowledged --shelve (reason, <= 12 h)--> shelved --expiry--> unacknowledged
    acknowledged --worse (higher severity, or rise >= 2 mmol/L above the value acknowledged)-->
        unacknowledged (re-alarm)
    any open state --triggering data corrected or removed--> withdrawn
    any open state (SEVERE_HYPONATREMIA, HYPERNATREMIA) --stay ended--> resolved (engine.stays)

An overcorrection alert never clears by itself: its harm window matters after the sodium
stops rising, so only a physician resolves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

UNACKNOWLEDGED = "unacknowledged"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"
CLEARED_UNACKNOWLEDGED = "cleared-unacknowledged"
SHELVED = "shelved"
WITHDRAWN = "withdrawn"
OPEN = frozenset({UNACKNOWLEDGED, ACKNOWLEDGED, CLEARED_UNACKNOWLEDGED, SHELVED})

MAX_SHELVE = timedelta(hours=12)
REALARM_RISE_MMOL_L = 2.0  # project default (issue 5): re-alarm on a further rise of 2
RATE_RULES = frozenset({"OVERCORRECTION_24H", "OVERCORRECTION_48H",
                        "PROJECTED_OVERCORRECTION"})
_SEVERITY = {"warning": 1, "critical": 2}


class TransitionError(ValueError):
    """The action is not allowed from the alert's current state (or by this role)."""


@dataclass(frozen=True, slots=True)
class AlertView:
    """What the lifecycle needs to know of an alert."""

    rule: str
    severity: str
    lifecycle: str
    value_mmol_l: float
    rise_mmol_l: float | None
    acknowledged_severity: str | None = None
    acknowledged_rise: float | None = None
    shelved_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    action: str  # acknowledged / shelved / unshelved / re-alarmed / resolved / cleared / ...
    from_state: str
    to_state: str
    actor: str
    reason: str | None = None
    shelved_until: datetime | None = None


def acknowledge(a: AlertView, actor: str, note: str | None = None) -> Transition:
    if a.lifecycle == UNACKNOWLEDGED:
        return Transition("acknowledged", a.lifecycle, ACKNOWLEDGED, actor, note)
    if a.lifecycle == CLEARED_UNACKNOWLEDGED:
        return Transition("acknowledged", a.lifecycle, RESOLVED, actor, note)
    raise TransitionError(f"cannot acknowledge an alert that is {a.lifecycle}")


# The ready-made reasons the board offers for shelving a warning.
SHELVE_REASONS = ("Patient off ward", "Physician aware", "Sample repeat pending")


def shelve(a: AlertView, actor: str, reason: str, until: datetime, now: datetime) -> Transition:
    if a.lifecycle not in (UNACKNOWLEDGED, ACKNOWLEDGED):
        raise TransitionError(f"cannot shelve an alert that is {a.lifecycle}")
    if not reason.strip():
        raise TransitionError("shelving needs a reason")
    if a.severity == "critical" and reason.strip().lower() in \
            {r.lower() for r in SHELVE_REASONS}:
        # A critical is silenced only for a reason someone put in words (issue 14).
        raise TransitionError("shelving a critical alert needs the reason in your own words, "
                              "not a ready-made one")
    if not now < until <= now + MAX_SHELVE:
        raise TransitionError("a shelf lasts more than 0 and at most 12 h")
    return Transition("shelved", a.lifecycle, SHELVED, actor, reason, until)


def unshelve(a: AlertView, actor: str) -> Transition:
    """Someone takes a shelved alert back before its shelf ends: it waits, unacknowledged,
    as when the shelf expires."""
    if a.lifecycle != SHELVED:
        raise TransitionError(f"cannot unshelve an alert that is {a.lifecycle}")
    return Transition("unshelved", SHELVED, UNACKNOWLEDGED, actor, "taken off the shelf")


def unshelve_if_due(a: AlertView, now: datetime) -> Transition | None:
    """When the shelf expires the alert returns, unacknowledged."""
    if a.lifecycle == SHELVED and a.shelved_until is not None and a.shelved_until <= now:
        return Transition("unshelved", SHELVED, UNACKNOWLEDGED, "system", "shelf expired")
    return None


def resolve(a: AlertView, actor: str, role: str, note: str) -> Transition:
    if role not in ("physician", "admin"):
        raise TransitionError("only a physician resolves an alert")
    if not note.strip():
        raise TransitionError("resolving needs a note")
    if a.lifecycle not in OPEN:
        raise TransitionError(f"cannot resolve an alert that is {a.lifecycle}")
    return Transition("resolved", a.lifecycle, RESOLVED, actor, note)


def worse(a: AlertView) -> bool:
    """Worse than when it was acknowledged: higher severity, or risen >= 2 mmol/L more."""
    if a.acknowledged_severity is not None and (
            _SEVERITY[a.severity] > _SEVERITY[a.acknowledged_severity]):
        return True
    if a.rise_mmol_l is not None and a.acknowledged_rise is not None:
        return a.rise_mmol_l - a.acknowledged_rise >= REALARM_RISE_MMOL_L
    return False


def realarm_if_worse(a: AlertView) -> Transition | None:
    if a.lifecycle == ACKNOWLEDGED and worse(a):
        return Transition("re-alarmed", ACKNOWLEDGED, UNACKNOWLEDGED, "system",
                          "worse than when acknowledged")
    return None


def clear(a: AlertView) -> Transition | None:
    """The condition is gone (e.g. sodium back above the severe band). Rate alerts never
    clear by themselves; an acknowledged alert then resolves, an unacknowledged one still
    waits for someone to acknowledge it."""
    if a.rule in RATE_RULES:
        return None
    if a.lifecycle == UNACKNOWLEDGED:
        return Transition("cleared", a.lifecycle, CLEARED_UNACKNOWLEDGED, "system",
                          "condition no longer present")
    if a.lifecycle == ACKNOWLEDGED:
        return Transition("cleared", a.lifecycle, RESOLVED, "system",
                          "condition no longer present")
    return None
