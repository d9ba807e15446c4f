"""Scheduled checks: sodium measurements overdue, and feeds gone silent."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime, timedelta

from sqlalchemy import func, select

from monitor.alerts import lifecycle as lc
from monitor.alerts.escalation import first_due
from monitor.engine.episodes import find_episodes
from monitor.engine.policy import Policy
from monitor.engine.sampling import interval
from monitor.notify.outbox import announce, clear_notice, raise_notice
from monitor.notify.routing import timing, ward_of
from monitor.services.alerting.actions import AlertChanged, record, view
from monitor.services.intake.pipeline import IMPORT_FEED, PSEUDO_FEEDS
from monitor.storage.repos.patients import lock
from monitor.storage.repos.results import load_series
from monitor.storage.repos.treatment import vaptan_times
from monitor.storage.repos.ward_policy import policies_in_force, ward_policies
from monitor.storage.tables import Alert, AlertEvent, Feed, Patient, Result
from monitor.storage.uow import UnitOfWork

OVERDUE = "MEASUREMENT_OVERDUE"
NOTIFY_MAX_AGE = timedelta(hours=24)  # the default of SODIUM_NOTIFY_MAX_AGE


def check_overdue(uow: UnitOfWork, default: Policy,
                  now: datetime, notify_max_age: timedelta = NOTIFY_MAX_AGE) -> list[int]:
    """MEASUREMENT_OVERDUE for patients not discharged, in an open episode, whose last
    sodium is older than their interval: once per gap; it resolves when a result comes,
    and stops when the patient is discharged or the episode is over. Each patient is
    watched under their ward's policy (`default` where the ward has none)."""
    with uow:
        s = uow.session
        # Past the longest episode gap of any policy in force nobody is in an open episode.
        gap = max(p.episodes.gap_hours for p in policies_in_force(s, default))
        last = (select(Result.patient_id, Patient.ward_id,
                       func.max(Result.collected_at).label("at"))
                .join(Patient, Patient.id == Result.patient_id)
                .where(Result.analyte == "sodium", Result.is_current.is_(True),
                       Result.removed.is_(False), Patient.discharged_at.is_(None),
                       Patient.merged_into_id.is_(None))
                .group_by(Result.patient_id, Patient.ward_id)
                .having(func.max(Result.collected_at) >= now - timedelta(hours=gap))
                .subquery())
        # Each watched patient's last collection time and the value(s) collected then.
        rows = s.execute(
            select(last.c.patient_id, last.c.ward_id, last.c.at, Result.value_mmol_l)
            .join(Result, (Result.patient_id == last.c.patient_id)
                  & (Result.collected_at == last.c.at))
            .where(Result.analyte == "sodium", Result.is_current.is_(True),
                   Result.removed.is_(False))).all()
        policies = ward_policies(s, {ward for _, ward, _, _ in rows}, default)
        rate_open = set(s.scalars(select(Alert.patient_id).distinct().where(
            Alert.rule.in_(lc.RATE_RULES), Alert.lifecycle.in_(lc.OPEN))))
        latest: dict[int, tuple[datetime, Policy]] = {}
        allowed: dict[int, timedelta] = {}
        vaptans = vaptan_times(s, {pid for pid, _, _, _ in rows})
        for pid, ward, last_at, value in rows:
            policy = policies[ward]
            if now - last_at > timedelta(hours=policy.episodes.gap_hours):
                continue
            latest[pid] = (last_at, policy)
            # Two values at the same moment: the stricter interval decides.
            gap_allowed = interval(policy, value, pid in rate_open, last_at,
                                   vaptans.get(pid, ()))
            allowed[pid] = min(allowed.get(pid, gap_allowed), gap_allowed)
        # Open overdue alerts of patients no longer watched (discharged, merged, or past
        # their episode gap): nothing is overdue for them any more.
        open_gaps: dict[int, set[str]] = {}
        for pid, key in s.execute(select(Alert.patient_id, Alert.latest_key).where(
                Alert.rule == OVERDUE, Alert.state == "active")):
            open_gaps.setdefault(pid, set()).add(key or "")
        gone = set(open_gaps) - set(latest)
    deliveries: list[int] = []
    for pid in sorted(gone):
        with uow:
            _stop_overdue(uow, pid, now)
    # Nothing can change for a patient sampled within the interval their latest value asks
    # for (the interval `_overdue_one` applies), nor for one whose open overdue alert is
    # about this very gap (no result since): only the others take the patient's lock and a
    # look at the series, so a ward costs a few queries per run instead of a transaction
    # per patient (which would also hold up their results).
    for pid, (last_at, policy) in latest.items():
        keys = open_gaps.get(pid)
        if keys == {_gap_key(last_at)} or (not keys and now - last_at <= allowed[pid]):
            continue
        with uow:
            deliveries += _overdue_one(uow, pid, last_at, policy, now, notify_max_age)
    return deliveries


def _gap_key(last_at: datetime) -> str:
    """Names a gap by the collection time of the result before it: one alert per gap."""
    return f"overdue-after:{last_at.isoformat()}"


def _stop_overdue(uow: UnitOfWork, pid: int, now: datetime) -> None:
    s = uow.session
    lock(s, pid)
    for a in s.scalars(select(Alert).where(Alert.patient_id == pid, Alert.rule == OVERDUE,
                                           Alert.state == "active")).all():
        with suppress(AlertChanged):
            record(uow, a, lc.Transition("resolved", a.lifecycle, lc.RESOLVED, "scheduler",
                                           "no longer monitored (discharged or episode over)"),
                   now, resolved_at=now, next_notification_at=None)
    uow.commit()


def _overdue_one(uow: UnitOfWork, pid: int, last_at: datetime, policy: Policy,
                 now: datetime, notify_max_age: timedelta = NOTIFY_MAX_AGE) -> list[int]:
    s = uow.session
    # One scheduler at a time per patient (processing takes the same lock): two
    # schedulers never raise the same gap twice.
    lock(s, pid)
    gap_key = _gap_key(last_at)
    existing = s.scalars(select(Alert).where(Alert.patient_id == pid, Alert.rule == OVERDUE,
                                             Alert.state == "active")).all()
    for a in existing:  # a result came: the gap is closed
        if a.latest_key != gap_key:
            with suppress(AlertChanged):
                record(uow, a, lc.Transition("resolved", a.lifecycle, lc.RESOLVED, "scheduler",
                                             "a sodium result arrived"), now, resolved_at=now,
                       next_notification_at=None)
    series = load_series(s, pid, last_at - timedelta(days=7))
    times = [m.collected_at.timestamp() for m in series.sodium]
    values = [m.value_mmol_l for m in series.sodium]
    episodes = find_episodes(times, values, policy)
    in_episode = bool(episodes) and episodes[-1].end is None and \
        now - last_at <= timedelta(hours=policy.episodes.gap_hours)
    if not in_episode or any(a.latest_key == gap_key for a in existing):
        uow.commit()
        return []
    rate_open = s.scalar(select(func.count()).select_from(Alert).where(
        Alert.patient_id == pid, Alert.rule.in_(lc.RATE_RULES),
        Alert.lifecycle.in_(lc.OPEN))) or 0
    allowed = interval(policy, values[-1], rate_open > 0, last_at,
                       vaptan_times(s, [pid]).get(pid, ()))
    if now - last_at <= allowed:
        uow.commit()
        return []
    hours = allowed.total_seconds() / 3600
    # Never page for the past: no page when the last sodium was a test message, backfill,
    # or already stale when it arrived.
    last = s.scalars(select(Result).where(
        Result.patient_id == pid, Result.analyte == "sodium", Result.is_current.is_(True),
        Result.removed.is_(False), Result.collected_at == last_at).order_by(Result.id)).all()
    notify = any(not r.test and r.source_feed != IMPORT_FEED
                 and r.received_at - r.collected_at <= notify_max_age for r in last)
    a = Alert(patient_id=pid, rule=OVERDUE, severity="warning", state="active",
              lifecycle=lc.UNACKNOWLEDGED, triggered_at=last_at + allowed,
              value_mmol_l=values[-1], window_hours=hours, risk_tier="standard",
              risk_factors=[], policy=policy.name, notify=notify, latest_key=gap_key,
              message=(f"No sodium result for {(now - last_at).total_seconds() / 3600:.0f} h "
                       f"(last {values[-1]:g} mmol/L); the policy asks for one every "
                       f"{hours:g} h: draw a sodium now (policy {policy.name})."),
              created_at=now, updated_at=now)
    if notify:  # then escalation, as for any alert
        a.next_notification_at = first_due(now, a.severity, timing(ward_of(s, pid)))
    s.add(a)
    s.flush()
    s.add(AlertEvent(alert_id=a.id, at=now, actor="scheduler", action="raised",
                     to_state=a.lifecycle, reason="measurement overdue"))
    deliveries = announce(s, a, "raised", gap_key, now)
    uow.commit()
    return deliveries


def check_feeds(uow: UnitOfWork, now: datetime) -> list[int]:
    """FEED_SILENT to admins when a registered feed sent nothing for its silence limit."""
    deliveries: list[int] = []
    with uow:
        # Locked, so two schedulers never both open a notice for the same feed.
        for feed in uow.session.scalars(select(Feed).where(Feed.name.not_in(PSEUDO_FEEDS))
                                        .order_by(Feed.id).with_for_update()):
            silent = feed.last_message_at is None or \
                now - feed.last_message_at > timedelta(seconds=feed.silent_after_s)
            if silent:
                deliveries += raise_notice(
                    uow.session, "FEED_SILENT", feed.name,
                    f"Feed {feed.name} has sent nothing since "
                    f"{feed.last_message_at.isoformat() if feed.last_message_at else 'ever'}.",
                    now)
            else:
                clear_notice(uow.session, "FEED_SILENT", feed.name, now)
        uow.commit()
    return deliveries


__all__ = ["check_feeds", "check_overdue", "interval", "view"]
