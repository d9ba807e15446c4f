"""Prometheus metrics, computed from the database at scrape time.

The database is the one place every process writes to, so one scrape of any API replica
sees the listener's, the workers' and the scheduler's work alike (no multiprocess
registries to merge). `/metrics` needs an admin bearer token (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector
from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from monitor.runtime import Runtime
from monitor.storage.tables import Alert, Delivery, InboxItem, RejectRow, Result

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class StoreCollector(Collector):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[object]:  # type: ignore[override]
        with self.rt.uow() as uow:
            s = uow.session
            results = CounterMetricFamily("sodium_results_ingested", "Result versions stored",
                                          labels=["feed", "analyte"])
            for feed, analyte, n in s.execute(select(Result.source_feed, Result.analyte,
                                                     func.count()).group_by(
                    Result.source_feed, Result.analyte)):
                results.add_metric([feed, analyte], n)
            yield results
            rejects = CounterMetricFamily("sodium_rejects", "Rejected inputs", labels=["reason"])
            # Literal bounds: with bound parameters PostgreSQL cannot tell that the GROUP BY
            # expression is the selected one (GroupingError).
            head = func.substr(RejectRow.reason, literal_column("1"), literal_column("60"))
            for reason, n in s.execute(select(head, func.count()).group_by(head)):
                rejects.add_metric([reason], n)
            yield rejects
            alerts = CounterMetricFamily("sodium_alerts", "Alerts raised",
                                         labels=["rule", "severity"])
            for rule, severity, n in s.execute(select(Alert.rule, Alert.severity, func.count())
                                               .group_by(Alert.rule, Alert.severity)):
                alerts.add_metric([rule, severity], n)
            yield alerts
            notes = CounterMetricFamily("sodium_notifications", "Notification deliveries",
                                        labels=["outcome"])
            for state, n in s.execute(select(Delivery.state, func.count())
                                      .group_by(Delivery.state)):
                notes.add_metric([state], n)
            yield notes
            pending = s.scalar(select(func.count()).select_from(InboxItem)
                               .where(InboxItem.state == "pending")) or 0
            yield GaugeMetricFamily("sodium_inbox_pending", "Inbox rows not yet processed",
                                    value=pending)
            parked = s.scalar(select(func.count()).select_from(InboxItem)
                              .where(InboxItem.state == "failed")) or 0
            yield GaugeMetricFamily("sodium_inbox_failed",
                                    "Inbox rows parked: they cannot be processed (see rejects)",
                                    value=parked)
            outbox = s.scalar(select(func.count()).select_from(Delivery)
                              .where(Delivery.state.in_(("pending", "sending")))) or 0
            yield GaugeMetricFamily("sodium_outbox_pending", "Deliveries not yet sent",
                                    value=outbox)
            yield self._latency(s)
        yield GaugeMetricFamily("sodium_queue_depth", "Tasks waiting in the broker",
                                value=self._queue_depth())

    def _latency(self, s: Session) -> HistogramMetricFamily:
        """Ingest (inbox received) to alert committed, over the last hour's alerts."""
        since = datetime.now(UTC) - timedelta(hours=1)
        rows = s.execute(
            select(Alert.created_at, InboxItem.received_at)
            .join(Result, Result.id == Alert.triggering_result_id)
            .join(InboxItem, InboxItem.id == Result.inbox_id)
            .where(Alert.created_at >= since)).all()
        seconds = [max((a - r).total_seconds(), 0.0) for a, r in rows]
        buckets = [(str(b), sum(1 for x in seconds if x <= b)) for b in LATENCY_BUCKETS]
        buckets.append(("+Inf", len(seconds)))
        h = HistogramMetricFamily("sodium_ingest_to_alert_seconds",
                                  "Inbox receipt to alert committed (alerts of the last hour)")
        h.add_metric([], buckets, sum_value=sum(seconds))
        return h

    def _queue_depth(self) -> float:
        url = self.rt.settings.broker_url
        if not url.startswith(("redis://", "rediss://")):
            return 0.0
        import redis

        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
            depth = float(client.llen("celery"))  # type: ignore[arg-type]
            client.close()
            return depth
        except redis.RedisError:
            return float("nan")
