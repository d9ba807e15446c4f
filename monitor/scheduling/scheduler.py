"""`sodium-monitor scheduler` (and the embedded service): APScheduler running the jobs."""

from __future__ import annotations

from typing import TypeVar

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from monitor.runtime import Runtime
from monitor.scheduling.jobs import (
    alerting,
    heartbeat,
    housekeeping,
    planner_statistics,
    sweep_inbox,
)

S = TypeVar("S", bound=BaseScheduler)


def configure(scheduler: S, rt: Runtime) -> S:
    every = rt.settings.sweep_interval.total_seconds()
    # coalesce + max_instances=1: a slow run is never stacked behind itself.
    options = {"coalesce": True, "max_instances": 1}
    scheduler.add_job(sweep_inbox, "interval", seconds=every, args=[rt], id="sweep-inbox",
                      **options)
    scheduler.add_job(heartbeat, "interval", seconds=every, args=[rt], id="heartbeat",
                      **options)
    scheduler.add_job(alerting, "interval", seconds=every, args=[rt], id="alerting",
                      **options)
    scheduler.add_job(planner_statistics, "interval",
                      seconds=rt.settings.statistics_interval.total_seconds(), args=[rt],
                      id="planner-statistics", **options)
    scheduler.add_job(housekeeping, "interval", hours=1, args=[rt], id="housekeeping",
                      **options)
    return scheduler


def blocking(rt: Runtime) -> BlockingScheduler:
    return configure(BlockingScheduler(timezone="UTC"), rt)


def background(rt: Runtime) -> BackgroundScheduler:
    return configure(BackgroundScheduler(timezone="UTC"), rt)
