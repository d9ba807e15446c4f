"""MLLP feeds and what binds a connection to one: a certificate CN, allowed networks, and
the permissions of what it may change (monitor/listener/auth.py applies them)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from monitor.services.intake.pipeline import PSEUDO_FEEDS, UNAUTHENTICATED
from monitor.storage.repos.common import require_fits
from monitor.storage.tables import Feed
from monitor.storage.uow import UnitOfWork

PERMISSIONS = ("results", "removals", "adt", "merges")
DEFAULT_PERMISSIONS = frozenset({"results"})
# The words of a permission refusal: a retry from the rejects list must not apply what the
# sender was refused (nor what came from a connection bound to no feed, UNAUTHENTICATED).
LACKS_PERMISSION = "lacks the permission"


def refused_for_authority(source: str, reason: str) -> bool:
    """Was this reject refused for who sent it rather than for what it says?"""
    return source == UNAUTHENTICATED or LACKS_PERMISSION in reason


@dataclass(frozen=True)
class Binding:
    name: str  # the feed as stored: "hl7:" + the name given to `feeds add`
    cert_cn: str | None
    allow_ips: tuple[str, ...]
    permissions: frozenset[str]


def feed_key(name: str) -> str:
    return name if name.startswith("hl7:") else "hl7:" + name


def _checked(allow: set[str], allow_ips: list[str]) -> None:
    unknown = allow - set(PERMISSIONS)
    if unknown:
        raise ValueError(f"unknown permission {', '.join(sorted(unknown))} "
                         f"(choose from {', '.join(PERMISSIONS)})")
    for cidr in allow_ips:
        ipaddress.ip_network(cidr, strict=False)  # ValueError names the bad network


def bind_feed(uow: UnitOfWork, name: str, now: datetime, *, cert_cn: str | None = None,
              allow_ips: list[str] | None = None, allow: set[str] | None = None) -> Binding:
    """Create or update an MLLP feed's binding; results only unless `allow` says more."""
    permissions = {"results"} | (allow or set())
    _checked(permissions, allow_ips or [])
    if not cert_cn and not allow_ips:
        raise ValueError("a feed needs --cert-cn or at least one --allow-ip")
    if not name.removeprefix("hl7:").strip() or feed_key(name) in PSEUDO_FEEDS:
        raise ValueError(f"{name!r} cannot name a feed")
    require_fits(feed_key(name), Feed.name, "feed name")
    require_fits(cert_cn or "", Feed.cert_cn, "certificate CN")
    with uow:
        holder = uow.session.scalar(select(Feed.name).where(
            Feed.cert_cn == cert_cn, Feed.name != feed_key(name))) if cert_cn else None
        if holder is not None:  # the column is unique: say who holds it, not a 500
            raise ValueError(f"certificate CN {cert_cn!r} is bound to {holder} already")
        feed = uow.session.scalar(select(Feed).where(Feed.name == feed_key(name)))
        if feed is None:
            feed = Feed(name=feed_key(name), kind="hl7", silent_after_s=1800, created_at=now)
            uow.session.add(feed)
        feed.cert_cn, feed.allow_ips = cert_cn, list(allow_ips or []) or None
        feed.permissions = ",".join(p for p in PERMISSIONS if p in permissions)
        uow.commit()
        return _binding(feed)


def _binding(feed: Feed) -> Binding:
    return Binding(feed.name, feed.cert_cn, tuple(feed.allow_ips or ()),
                   frozenset(p for p in (feed.permissions or "").split(",") if p))


def feed_bindings(uow: UnitOfWork) -> list[Binding]:
    """Every feed bound to a certificate or a network."""
    with uow:
        # Filtered here: a JSON column's "no networks" may be SQL NULL or JSON null.
        rows = uow.session.scalars(select(Feed).where(Feed.kind == "hl7").order_by(Feed.name))
        return [_binding(f) for f in rows if f.cert_cn or f.allow_ips]
