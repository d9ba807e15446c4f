"""The policy in force for a patient: their ward's own profile, else the service's."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.engine.policy import Policy, PolicyError, load_policy
from monitor.storage.tables import Patient, Ward


@lru_cache(maxsize=32)
def _load(name: str) -> Policy:
    return load_policy(name)


def policy_for(s: Session, patient_id: int, default: Policy) -> Policy:
    name = s.scalar(select(Ward.policy).join(Patient, Patient.ward_id == Ward.id)
                    .where(Patient.id == patient_id))
    return policy_named(name, default)


def policy_named(name: str | None, default: Policy) -> Policy:
    """A ward's policy by name; the service's when the ward has none."""
    if not name:
        return default
    try:
        return _load(name)
    except PolicyError:
        return default  # an unloadable ward policy must not stop evaluation
