"""Alerts reach people: nurses first, the on-call physician when nobody acknowledges,
through a real SMTP server and a real webhook receiver; time travels by passing `now`."""

from __future__ import annotations

import email
import hashlib
import hmac
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hl7.client
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.runtime import Runtime
from monitor.scheduling import jobs
from monitor.services.alerting import actions
from monitor.services.operations import admin
from monitor.storage.tables import Alert, Delivery
from tests.hl7_builders import oru
from tests.integration.helpers import all_processed
from tests.integration.receivers import Hook, SmtpReceiver, WebhookReceiver
from tests.integration.stack import stack, wait_for

SECRET = "s3cret-for-tests"


@pytest.fixture
def hooks() -> Iterator[dict[str, WebhookReceiver]]:
    made = {"nurse": WebhookReceiver(), "physician": WebhookReceiver()}
    yield made
    for r in made.values():
        r.close()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    yield receiver
    receiver.close()


def runtime(pg: str, redis_url: str, smtp: SmtpReceiver) -> Runtime:
    return Runtime(Settings(database_url=pg, broker_url=redis_url, smtp_host="127.0.0.1",
                            smtp_port=smtp.port))


def hospital(rt: Runtime, hooks: dict[str, WebhookReceiver], now: datetime) -> None:
    with rt.uow() as uow:
        admin.upsert_ward(uow, "MED4", now, name="Medicine 4", fallback="dr.fallback")
    for name, role, hook in (("nurse.kim", "nurse", hooks["nurse"]),
                             ("dr.ali", "physician", hooks["physician"])):
        with rt.uow() as uow:
            admin.create_user(uow, name, role, now, wards=["MED4"])
        with rt.uow() as uow:
            admin.add_channel(uow, name, webhook=hook.url, secret=SECRET)
    with rt.uow() as uow:
        admin.add_channel(uow, "nurse.kim", email="kim@ward.example")
    with rt.uow() as uow:
        admin.add_shift(uow, "MED4", "dr.ali", now - timedelta(hours=1),
                        now + timedelta(hours=12), now)


def overcorrect(port: int, now: datetime, patient: str = "N1") -> int:
    """Three results over 19 h, 118 -> 128: a critical OVERCORRECTION_24H at the last."""
    client = hl7.client.MLLPClient("127.0.0.1", port)
    values = [(now - timedelta(hours=20), 118), (now - timedelta(hours=10), 123),
              (now - timedelta(hours=1), 128)]
    for n, (at, value) in enumerate(values):
        client.send_message(oru(patient, f"{patient}-{n}", at, value, received=now))
    client.close()
    return len(values)


def critical(engine: Engine) -> Alert:
    with Session(engine) as s:
        found = s.scalar(select(Alert).where(Alert.rule == "OVERCORRECTION_24H"))
    assert found is not None and found.severity == "critical"
    return found


def of_24h(hooks: list[Hook]) -> list[Hook]:
    return [h for h in hooks if h.json.get("alert", {}).get("rule") == "OVERCORRECTION_24H"]


def raised_24h(hook: WebhookReceiver) -> list[Hook]:
    return of_24h(hook.events("raised"))


def alerting(rt: Runtime, engine: Engine, now: datetime) -> None:
    """The scheduler's alerting run at `now`, then wait until the deliveries worker has
    attempted every delivery it was handed (none left queued or being sent)."""
    jobs.alerting(rt, now)

    def settled() -> bool:
        with Session(engine) as db:
            return not db.scalar(select(Delivery.id).where(
                Delivery.state.in_(("queued", "sending"))).limit(1))

    wait_for(settled, 60, "the deliveries worker")


def signed(hook_body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), hook_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def test_a_critical_alert_reaches_nurses_by_webhook_and_email_then_escalates(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path,
        hooks: dict[str, WebhookReceiver], smtp: SmtpReceiver) -> None:
    now = datetime.now(UTC)
    rt = runtime(pg_migrated, redis_url, smtp)
    hospital(rt, hooks, now)
    with stack(pg_migrated, redis_url, tmp_path, SODIUM_SMTP_HOST="127.0.0.1",
               SODIUM_SMTP_PORT=str(smtp.port)) as s:
        port = s.mllp()
        s.worker(concurrency=2)
        sent = overcorrect(port, now)
        wait_for(lambda: all_processed(pg_engine, sent), 60, "the worker")
        wait_for(lambda: bool(raised_24h(hooks["nurse"])) and any(
            b"OVERCORRECTION_24H" in m[2] for m in smtp.messages), 60,
            "the first notifications")
        raised = raised_24h(hooks["nurse"])
        assert len(raised) == 1
        hook = raised[0]
        assert signed(hook.body, hook.headers["X-Sodium-Signature"])
        assert hook.json["recipient"] == "nurse.kim"
        assert hook.json["idempotency_key"] == hook.headers["Idempotency-Key"]
        assert hook.json["alert"]["patient_id"] == "*1"  # masked: N1 -> *1
        assert hook.json["alert"]["ward"] == "MED4"
        assert hook.json["alert"]["severity"] == "critical"
        subjects = [email.message_from_bytes(m[2])["Subject"] for m in smtp.messages]
        assert any("OVERCORRECTION_24H" in x and "MED4" in x for x in subjects)
        assert not any("DOE" in x or "ALEX" in x or "N1" in x for x in subjects)
        assert hooks["physician"].events() == []  # not yet: the nurse has 10 minutes

        alert = critical(pg_engine)
        alerting(rt, pg_engine, alert.created_at + timedelta(minutes=9, seconds=59))
        assert hooks["physician"].events() == []
        alerting(rt, pg_engine, alert.created_at + timedelta(minutes=10))
        escalated = of_24h(hooks["physician"].events("escalated"))
        assert len(escalated) == 1 and signed(escalated[0].body,
                                              escalated[0].headers["X-Sodium-Signature"])
        alerting(rt, pg_engine, alert.created_at + timedelta(minutes=20))
        assert len(of_24h(hooks["physician"].events("repeated"))) == 1

        actions.acknowledge(rt.uow(), alert.id, "nurse.kim", "on it",
                            alert.created_at + timedelta(minutes=21))

        def count_24h() -> int:
            return len(of_24h(hooks["physician"].events()) + of_24h(hooks["nurse"].events()))

        before = count_24h()
        for minutes in (30, 40, 60):
            alerting(rt, pg_engine, alert.created_at + timedelta(minutes=minutes))
        assert count_24h() == before  # acknowledged: no more escalations or repeats
        assert len(of_24h(hooks["physician"].events("repeated"))) == 1


def test_a_failing_webhook_gets_exactly_one_success_with_the_same_key(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path,
        smtp: SmtpReceiver) -> None:
    now = datetime.now(UTC)
    flaky = WebhookReceiver(fail_first=3)
    try:
        rt = runtime(pg_migrated, redis_url, smtp)
        hospital(rt, {"nurse": flaky, "physician": WebhookReceiver()}, now)
        with stack(pg_migrated, redis_url, tmp_path) as s:
            port = s.mllp()
            s.worker(concurrency=1)
            sent = overcorrect(port, now)
            wait_for(lambda: all_processed(pg_engine, sent), 60, "the worker")
            wait_for(lambda: any(h.json.get("alert", {}).get("rule") == "OVERCORRECTION_24H"
                                 for h in flaky.received), 60, "the first attempt")
            later = now
            for _ in range(12):  # each pass is after the back-off of the one before
                later += timedelta(minutes=16)
                alerting(rt, pg_engine, later)
        for_alert = [h for h in flaky.received
                     if h.json.get("alert", {}).get("rule") == "OVERCORRECTION_24H"
                     and h.json["event"] == "raised"]
        assert len(for_alert) == 4  # three failures, one success, then nothing more
        assert len({h.headers["Idempotency-Key"] for h in for_alert}) == 1
        with Session(pg_engine) as db:
            key = for_alert[0].headers["Idempotency-Key"]
            d = db.scalar(select(Delivery).where(Delivery.idempotency_key == key))
        assert d is not None and (d.state, d.attempts) == ("sent", 4)
    finally:
        flaky.close()


def test_two_schedulers_never_send_an_escalation_twice(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path,
        hooks: dict[str, WebhookReceiver], smtp: SmtpReceiver) -> None:
    now = datetime.now(UTC)
    first, second = runtime(pg_migrated, redis_url, smtp), runtime(pg_migrated, redis_url,
                                                                   smtp)
    hospital(first, hooks, now)
    with stack(pg_migrated, redis_url, tmp_path) as s:
        port = s.mllp()
        s.worker(concurrency=1)
        sent = overcorrect(port, now)
        wait_for(lambda: all_processed(pg_engine, sent), 60, "the worker")
        due = critical(pg_engine).created_at + timedelta(minutes=10)
        for _ in range(3):  # several rounds of two schedulers racing at the same moment
            threads = [threading.Thread(target=alerting, args=(rt, pg_engine, due))
                       for rt in (first, second)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
    escalated = [h for h in hooks["physician"].events("escalated")
                 if h.json["alert"]["rule"] == "OVERCORRECTION_24H"]
    assert len(escalated) == 1
