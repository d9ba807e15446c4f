"""/metrics on PostgreSQL, parsed with prometheus_client's own parser: every family has its
HELP and TYPE, no counter goes down when rows are deleted between two scrapes (the counts of
rows that can go are gauges), and the inbox age, retry and queue gauges say what is there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from monitor.storage.tables import InboxItem, RejectRow
from tests.conftest import TEST_REDIS_URL
from tests.integration.hospital import Hospital, build


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    yield made
    made.close()


Families = dict[str, tuple[str, dict[tuple[object, ...], float]]]


def scrape(h: Hospital) -> tuple[str, Families]:
    reply = h.bearer("root").get("/metrics")
    assert reply.status_code == 200, reply.text
    families: Families = {}
    for f in text_string_to_metric_families(reply.text):
        samples = {(s.name, *sorted(s.labels.items())): s.value for s in f.samples}
        families[f.name] = (f.type, samples)
    return reply.text, families


def test_metrics_families_are_declared_and_counters_never_go_down(
        h: Hospital, pg_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h.rt.settings, "broker_url", TEST_REDIS_URL)
    broker = redis.Redis.from_url(TEST_REDIS_URL)
    broker.delete("celery")
    broker.rpush("celery", b"one", b"two", b"three")
    now = datetime.now(UTC)
    with Session(pg_engine) as s:
        s.add_all([InboxItem(format="hl7", feed="hl7:LIS", payload=b"x", state="pending",
                             received_at=now - timedelta(minutes=10), attempts=2),
                   InboxItem(format="hl7", feed="hl7:LIS", payload=b"y", state="pending",
                             received_at=now - timedelta(minutes=1), attempts=0)])
        s.add_all([RejectRow(source="hl7:LIS", position="OBX-5", reason="metrics test reject",
                             payload="p", created_at=now) for _ in range(2)])
        s.commit()
    try:
        text, first = scrape(h)
        with Session(pg_engine) as s:
            s.execute(delete(RejectRow).where(RejectRow.reason == "metrics test reject"))
            s.commit()
        _, second = scrape(h)
    finally:
        broker.delete("celery")
        broker.close()

    for name, (kind, _) in first.items():
        exposed = f"{name}_total" if kind == "counter" else name  # the parser drops _total
        assert f"# HELP {exposed} " in text and f"# TYPE {exposed} " in text, name
    assert {name for name, (kind, _) in first.items() if kind == "counter"} == {
        "sodium_inbox_retries", "sodium_delivery_retries"}
    for name, (kind, samples) in first.items():
        if kind == "counter":
            for key, value in samples.items():
                assert second[name][1].get(key, 0.0) >= value, (name, key)

    rejects = first["sodium_rejects_stored"]
    assert rejects[0] == "gauge"
    key = ("sodium_rejects_stored", ("reason", "metrics test reject"))
    assert rejects[1][key] == 2.0 and key not in second["sodium_rejects_stored"][1]

    age = first["sodium_inbox_oldest_pending_age_seconds"][1][
        ("sodium_inbox_oldest_pending_age_seconds",)]
    assert 600.0 <= age < 3600.0
    assert first["sodium_inbox_pending"][1][("sodium_inbox_pending",)] == 2.0
    assert first["sodium_inbox_retrying"][1][("sodium_inbox_retrying",)] == 1.0
    assert first["sodium_inbox_failed"][1][("sodium_inbox_failed",)] == 0.0
    assert first["sodium_queue_depth"][1][("sodium_queue_depth", ("queue", "celery"))] == 3.0
