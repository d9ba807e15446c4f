"""`sodium-monitor check`: what a monitoring probe needs to know, with its exit code.

0 OK, 1 WARNING (a feed silent, the scheduler's heartbeat stale), 2 CRITICAL (database
unreachable, migrations behind, broker unreachable) — the Nagios plugin convention.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from monitor.runtime import Runtime
from monitor.runtime.readiness import broker_status, database_status
from monitor.services.intake.pipeline import PSEUDO_FEEDS
from monitor.services.intake.unmapped import unmapped_list
from monitor.storage.migrate import current_revision, head_revision
from monitor.storage.tables import Feed, Heartbeat

OK, WARNING, CRITICAL = 0, 1, 2
NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL"}


@dataclass(frozen=True)
class Finding:
    name: str
    level: int
    detail: str


def check(rt: Runtime, now: datetime) -> list[Finding]:
    out: list[Finding] = []
    db = database_status(rt)
    out.append(Finding("database", OK if db == "ok" else CRITICAL, db))
    if db != "ok":
        return out
    current, head = current_revision(rt.engine), head_revision(rt.settings.database_url)
    out.append(Finding("migrations", OK if current == head else CRITICAL,
                       f"at {current}, head {head}"))
    broker = broker_status(rt)
    out.append(Finding("broker", OK if broker in ("ok", "in-process") else CRITICAL, broker))
    stale = rt.settings.sweep_interval * 4 + timedelta(seconds=30)
    with rt.uow() as uow:
        beat = uow.session.get(Heartbeat, "scheduler")
        feeds = list(uow.session.scalars(select(Feed).where(Feed.name.not_in(PSEUDO_FEEDS))))
    if beat is None:
        out.append(Finding("scheduler", WARNING, "no heartbeat yet"))
    else:
        age = now - beat.beat_at
        out.append(Finding("scheduler", OK if age <= stale else WARNING,
                           f"last heartbeat {int(age.total_seconds())} s ago"))
    silent = [f.name for f in feeds if f.last_message_at is None
              or now - f.last_message_at > timedelta(seconds=f.silent_after_s)]
    out.append(Finding("feeds", WARNING if silent else OK,
                       f"silent: {', '.join(silent)}" if silent else f"{len(feeds)} live"))
    out.append(Finding("codes", OK, _unused(rt)))
    return out


def _unused(rt: Runtime, shown: int = 5) -> str:
    """The codes the feeds send that are not used, most frequent first: news for an
    integration engineer, never a fault of the service."""
    with rt.uow() as uow:
        top = unmapped_list(uow.session, shown + 1)
    if not top:
        return "every code received was used"
    listed = "; ".join(f"{u.feed} {u.system}|{u.code} x{u.seen}" for u in top[:shown])
    return f"not used: {listed}" + ("; ... (admin page)" if len(top) > shown else "")
