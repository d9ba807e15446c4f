"""A notification channel that hangs must not hold up the clinical path (issue 13,
finding 4): with every deliveries worker stuck on a webhook that accepts connections and
never answers, a new sodium result is still processed into its alert, and the scheduler's
alerting run still escalates, queueing (not sending) what it wrote.

Before deliveries had their own queue and the scheduler stopped sending inline, the result
waited behind the hanging sends on the shared workers, and the alerting run sent each due
delivery itself, one timeout after another.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.runtime import Runtime
from monitor.scheduling import jobs
from monitor.services.operations import admin
from monitor.storage.tables import Alert, Delivery, NotificationChannel, Patient
from tests.integration.receivers import WebhookReceiver
from tests.integration.stack import stack, wait_for
from tests.integration.test_notifications import overcorrect

HANGING_CHANNELS = 20


class BlackHole:
    """An HTTP endpoint that accepts every connection, reads nothing and never answers,
    until closed."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.held: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/hook"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return  # closed
            self.held.append(connection)

    def close(self) -> None:
        self.server.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def hole() -> Iterator[BlackHole]:
    made = BlackHole()
    yield made
    made.close()


def alert_of(engine: Engine, patient: str) -> Alert | None:
    with Session(engine) as db:
        return db.scalar(select(Alert).join(Patient, Patient.id == Alert.patient_id)
                         .where(Patient.identifier == patient,
                                Alert.rule == "OVERCORRECTION_24H"))


def hanging(engine: Engine, hole: BlackHole) -> dict[str, int]:
    """The black hole's deliveries by state, and how many of them failed so far."""
    with Session(engine) as db:
        rows = db.execute(select(Delivery.state, func.count(), func.count(Delivery.last_error))
                          .join(NotificationChannel,
                                NotificationChannel.id == Delivery.channel_id)
                          .where(NotificationChannel.target == hole.url)
                          .group_by(Delivery.state)).all()
    found = {state: n for state, n, _ in rows}
    found["errors"] = sum(errors for _, _, errors in rows)
    return found


def test_a_black_hole_webhook_delays_no_result_and_no_escalation(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path,
        hole: BlackHole) -> None:
    now = datetime.now(UTC)
    rt = Runtime(Settings(database_url=pg_migrated, broker_url=redis_url))
    physician = WebhookReceiver()
    try:
        with rt.uow() as uow:
            admin.upsert_ward(uow, "MED4", now, name="Medicine 4", fallback="dr.ali")
        for name, role in (("nurse.kim", "nurse"), ("dr.ali", "physician")):
            with rt.uow() as uow:
                admin.create_user(uow, name, role, now, wards=["MED4"])
        for _ in range(HANGING_CHANNELS):  # the nurse's pager gateway is a black hole
            with rt.uow() as uow:
                admin.add_channel(uow, "nurse.kim", webhook=hole.url, secret="s")
        with rt.uow() as uow:
            admin.add_channel(uow, "dr.ali", webhook=physician.url, secret="s")
        with rt.uow() as uow:
            admin.add_shift(uow, "MED4", "dr.ali", now - timedelta(hours=1),
                            now + timedelta(hours=12), now)

        # Each attempt would hang for 5 minutes: far longer than anything below waits.
        with stack(pg_migrated, redis_url, tmp_path, SODIUM_DELIVERY_TIMEOUT="300") as s:
            port = s.mllp()
            s.worker(concurrency=2, queues="celery")
            s.worker(concurrency=2, queues="deliveries", pool="threads")
            overcorrect(port, now, "N1")
            wait_for(lambda: len(hole.held) >= 2, 60, "both delivery threads to hang")

            overcorrect(port, now, "N2")
            wait_for(lambda: alert_of(pg_engine, "N2") is not None, 60,
                     "N2's result processed into its alert")
            stuck = hanging(pg_engine, hole)
            assert stuck["sending"] >= 2 and stuck["errors"] == 0 and "sent" not in stuck, \
                "the alert must be committed while the hanging sends are still hanging"

            first = alert_of(pg_engine, "N1")
            assert first is not None and first.escalation_level == 0
            # Nobody acknowledged N1's critical within 10 minutes: the alerting run
            # escalates it and returns, leaving the sends to the deliveries workers.
            jobs.alerting(rt, first.created_at + timedelta(minutes=10))
            escalated = alert_of(pg_engine, "N1")
            assert escalated is not None and escalated.escalation_level == 1
            with Session(pg_engine) as db:
                states = set(db.scalars(select(Delivery.state).where(
                    Delivery.alert_id == first.id, Delivery.event == "escalated")))
            assert states and states <= {"queued", "sending", "sent"}
            assert hanging(pg_engine, hole)["errors"] == 0  # still hanging meanwhile
            hole.close()  # the hanging sends fail now, so the workers stop promptly
    finally:
        physician.close()
