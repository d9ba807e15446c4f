"""Prometheus metrics, computed from the database at scrape time.

The database is the one place every process writes to, so one scrape of any API replica
sees the listener's, the workers' and the scheduler's work alike (no multiprocess
registries to merge). `/metrics` needs an admin bearer token (docs/operations.md).

A count of rows as they are now is a gauge: rows go (a purge, a result removed, an alert
resolved), so none may be exposed as a Prometheus counter (a `_total` must never decrease).
The names say what is counted (`..._stored`, `..._by_state`). The counters (`..._total`)
are read from `service_counters`, rows that only grow, added to in the transaction that
does what they count (monitor/storage/repos/counters.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from monitor.notify.sender import UNSENT
from monitor.runtime import Runtime
from monitor.runtime.dispatchers import QUEUES
from monitor.storage.repos import counters
from monitor.storage.tables import Alert, Delivery, InboxItem, RejectRow, Result

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class StoreCollector(Collector):
    def __init__(self, rt: Runtime, now: Callable[[], datetime] = lambda: datetime.now(UTC)
                 ) -> None:
        self.rt = rt
        self.now = now

    def collect(self) -> Iterator[object]:  # type: ignore[override]
        now = self.now()
        with self.rt.uow() as uow:
            s = uow.session
            results = GaugeMetricFamily("sodium_results_stored", "Result versions stored",
                                        labels=["feed", "analyte"])
            for feed, analyte, n in s.execute(select(Result.source_feed, Result.analyte,
                                                     func.count()).group_by(
                    Result.source_feed, Result.analyte)):
                results.add_metric([feed, analyte], n)
            yield results
            rejects = GaugeMetricFamily("sodium_rejects_stored", "Reject rows stored",
                                        labels=["reason"])
            # Literal bounds: with bound parameters PostgreSQL cannot tell that the GROUP BY
            # expression is the selected one (GroupingError).
            head = func.substr(RejectRow.reason, literal_column("1"), literal_column("60"))
            for reason, n in s.execute(select(head, func.count()).group_by(head)):
                rejects.add_metric([reason], n)
            yield rejects
            alerts = GaugeMetricFamily("sodium_alerts_stored", "Alert rows stored",
                                       labels=["rule", "severity"])
            for rule, severity, n in s.execute(select(Alert.rule, Alert.severity, func.count())
                                               .group_by(Alert.rule, Alert.severity)):
                alerts.add_metric([rule, severity], n)
            yield alerts
            notes = GaugeMetricFamily("sodium_deliveries_by_state",
                                      "Notification deliveries stored, by state",
                                      labels=["state"])
            for state, n in s.execute(select(Delivery.state, func.count())
                                      .group_by(Delivery.state)):
                notes.add_metric([state], n)
            yield notes
            pending = s.scalar(select(func.count()).select_from(InboxItem)
                               .where(InboxItem.state == "pending")) or 0
            yield GaugeMetricFamily("sodium_inbox_pending", "Inbox rows not yet processed",
                                    value=pending)
            oldest = s.scalar(select(func.min(InboxItem.received_at))
                              .where(InboxItem.state == "pending"))
            age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
            yield GaugeMetricFamily("sodium_inbox_oldest_pending_age_seconds",
                                    "Age of the oldest pending inbox row (0 when none)",
                                    value=age)
            retried = s.scalar(select(func.count()).select_from(InboxItem)
                               .where(InboxItem.state == "pending",
                                      InboxItem.attempts > 1)) or 0
            yield GaugeMetricFamily("sodium_inbox_retrying",
                                    "Pending inbox rows already claimed more than once",
                                    value=retried)
            parked = s.scalar(select(func.count()).select_from(InboxItem)
                              .where(InboxItem.state == "failed")) or 0
            yield GaugeMetricFamily("sodium_inbox_failed",
                                    "Inbox rows parked: they cannot be processed (see rejects)",
                                    value=parked)
            outbox = s.scalar(select(func.count()).select_from(Delivery)
                              .where(Delivery.state.in_(UNSENT))) or 0
            yield GaugeMetricFamily("sodium_outbox_pending", "Deliveries not yet sent",
                                    value=outbox)
            retrying = s.scalar(select(func.count()).select_from(Delivery)
                                .where(Delivery.state.in_(UNSENT),
                                       Delivery.attempts > 0)) or 0
            yield GaugeMetricFamily("sodium_outbox_retrying",
                                    "Deliveries not yet sent that have failed at least once",
                                    value=retrying)
            yield CounterMetricFamily(
                "sodium_inbox_retries", "Attempts at an inbox row after its first (claimed "
                "again after a failure or a dead worker, or alone after its batch failed)",
                value=counters.value(s, counters.INBOX_RETRIES))
            yield CounterMetricFamily(
                "sodium_delivery_retries", "Attempts at a notification delivery after its first",
                value=counters.value(s, counters.DELIVERY_RETRIES))
            yield from self._latency(s, now)
        depth = GaugeMetricFamily("sodium_queue_depth", "Tasks waiting in the broker",
                                  labels=["queue"])
        for queue, length in self._queue_depths():
            depth.add_metric([queue], length)
        yield depth

    def _latency(self, s: Session, now: datetime) -> Iterator[GaugeMetricFamily]:
        """Ingest (inbox received) to alert committed, over the last hour's alerts.

        A sliding window shrinks as alerts age out of it, so it is a gauge per bucket (`le`,
        cumulative) with its count and sum, not a Prometheus histogram."""
        since = now - timedelta(hours=1)
        rows = s.execute(
            select(Alert.created_at, InboxItem.received_at)
            .join(Result, Result.id == Alert.triggering_result_id)
            .join(InboxItem, InboxItem.id == Result.inbox_id)
            .where(Alert.created_at >= since)).all()
        seconds = [max((a - r).total_seconds(), 0.0) for a, r in rows]
        buckets = GaugeMetricFamily("sodium_recent_ingest_to_alert_alerts",
                                    "Alerts of the last hour committed within le seconds of "
                                    "their inbox receipt", labels=["le"])
        for b in LATENCY_BUCKETS:
            buckets.add_metric([str(b)], sum(1 for x in seconds if x <= b))
        buckets.add_metric(["+Inf"], len(seconds))
        yield buckets
        yield GaugeMetricFamily("sodium_recent_ingest_to_alert_seconds_sum",
                                "Sum of the last hour's inbox-receipt-to-alert seconds",
                                value=sum(seconds))

    def _queue_depths(self) -> list[tuple[str, float]]:
        url = self.rt.settings.broker_url
        if not url.startswith(("redis://", "rediss://")):
            return [(q, 0.0) for q in QUEUES]
        import redis

        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
            try:
                return [(q, float(client.llen(q))) for q in QUEUES]  # type: ignore[arg-type]
            finally:
                client.close()
        except redis.RedisError:
            return [(q, float("nan")) for q in QUEUES]
