"""The policy in force for a patient: their ward's own profile, else the service's."""

from __future__ import annotations

from functools import lru_cache

from monitor.engine.policy import Policy, PolicyError, load_policy


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
