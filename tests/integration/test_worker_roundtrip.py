"""A real `celery worker` process on the test Redis db picks up a task sent through it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]


def test_a_real_worker_process_runs_a_task_from_redis(redis_url: str) -> None:
    env = {**os.environ, "SODIUM_BROKER_URL": redis_url, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
         "--pool", "solo", "--loglevel", "WARNING", "--without-mingle", "--without-gossip"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        from workers.celery_app import make_celery

        sender = make_celery(redis_url)
        key = f"ping-{uuid.uuid4()}"
        sender.send_task("sodium.ping", args=[key, redis_url])
        client = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 60  # a liveness bound, not a speed assertion
        while time.monotonic() < deadline and client.get(key) is None:
            time.sleep(0.2)
        assert client.get(key) == b"pong", worker.stdout.read1().decode() if worker.stdout else ""
    finally:
        worker.terminate()
        worker.wait(timeout=30)
