"""The policy in force for a patient: their ward's own profile, else the service's.

The one place it is resolved. Evaluation (inbox batches and clinician changes), the census,
the patient chart and the overdue check all ask here, so a patient is never judged by one
policy and shown or watched by another. It lives with the repositories because a ward row's
policy name becoming a Policy is rows becoming domain objects, and every service capability
(alerting's overdue check included) may read the repositories.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.engine.policy import Policy, PolicyError, load_policy
from monitor.storage.tables import Patient, Ward


@lru_cache(maxsize=32)
def _load(name: str) -> Policy:
    return load_policy(name)


def policy_named(name: str | None, default: Policy) -> Policy:
    """A ward's policy by name; the service's when the ward has none."""
    if not name:
        return default
    try:
        return _load(name)
    except PolicyError:
        return default  # an unloadable ward policy must not stop evaluation


def ward_policies(s: Session, ward_ids: Iterable[int | None], default: Policy
                  ) -> dict[int | None, Policy]:
    """The policy of each ward (None, no ward: the service's), one query for them all."""
    ids = sorted({w for w in ward_ids if w is not None})
    named = {w: name for w, name in s.execute(
        select(Ward.id, Ward.policy).where(Ward.id.in_(ids)))} if ids else {}
    found: dict[int | None, Policy] = {None: default}
    found.update({w: policy_named(named.get(w), default) for w in ids})
    return found


def policy_of(s: Session, pid: int, default: Policy) -> Policy:
    """The policy in force for one patient, by the ward the patient is on now."""
    ward = s.scalar(select(Patient.ward_id).where(Patient.id == pid))
    return ward_policies(s, [ward], default)[ward]


def policies_in_force(s: Session, default: Policy) -> list[Policy]:
    """Every policy some patient may be under: the service's and each ward's own."""
    wards = ward_policies(s, s.scalars(select(Ward.id).where(Ward.policy.is_not(None))),
                          default)
    return list({p.name: p for p in wards.values()}.values())
