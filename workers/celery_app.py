"""The Celery application. Tasks stay thin: load by id, call a service.

Configuration is deliberate; each choice says why.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import setup_logging

from monitor.config import get_settings
from monitor.logs import configure
from monitor.runtime.dispatchers import DELIVER_TASK, DELIVERIES_QUEUE


def make_celery(broker_url: str | None = None) -> Celery:
    url = broker_url or get_settings().broker_url or "memory://"
    app = Celery("sodium_monitor", broker=url, include=["workers.tasks"])
    app.conf.update(
        # JSON only: pickle would let anyone who can write to Redis run code in the worker.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # acks_late + reject_on_worker_lost: a task is acknowledged only after it finished,
        # so a worker killed mid-task has it redelivered. Tasks are idempotent by design.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One message at a time per process: long prefetch queues would hold results hostage
        # behind a slow task and be redelivered together after a crash.
        worker_prefetch_multiplier=1,
        # A result must be evaluated within seconds; a task stuck for a minute is a bug or a
        # lock wait gone wrong, and is better killed and redelivered.
        task_soft_time_limit=30,
        task_time_limit=60,
        # Recycle processes now and then to keep worker memory flat over long runs.
        worker_max_tasks_per_child=10_000,
        # Results are in the database; Celery's result backend is not used.
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        # Redis redelivers unacknowledged messages after this; never use ETA/countdown
        # (escalation timers are database rows driven by the scheduler).
        broker_transport_options={"visibility_timeout": 300},
        # Notifications on a queue of their own (docs/scaling.md): a hanging channel ties up
        # only the workers that consume it.
        task_routes={DELIVER_TASK: {"queue": DELIVERIES_QUEUE}},
        worker_hijack_root_logger=False,
        timezone="UTC",
    )
    return app


app = make_celery(os.environ.get("SODIUM_BROKER_URL") or None)


@setup_logging.connect
def _logs(**_: object) -> None:
    """The worker logs like every other process (JSON lines unless configured otherwise)."""
    configure(os.environ.get("SODIUM_LOG_FORMAT", "json"))
