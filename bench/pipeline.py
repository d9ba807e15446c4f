"""Benchmark of the live pipeline: MLLP listener -> inbox -> Celery workers -> alerts.

    .venv/bin/python bench/pipeline.py [--messages 20000] [--connections 4] [--rate 100]
    .venv/bin/python bench/pipeline.py --memory-run [--memory-messages 100000]
    .venv/bin/python bench/pipeline.py --profile 500     # cProfile of the worker's task
    .venv/bin/python bench/pipeline.py --database-url postgresql+psycopg://u@db:5432/x_bench \
        --redis-url redis://cache:6379/14 --mllp-port 2576

Starts the real processes (`sodium-monitor db upgrade`, `mllp`, `worker --concurrency 2`,
`scheduler`: its sweeps and planner-statistics job, as deployed) on
a dedicated database (--database-url, default `sodium_monitor_bench` on 127.0.0.1; its name
must contain "bench": its schema is dropped and recreated on every run) and Redis db
(--redis-url, default db 14 on 127.0.0.1; flushed, so never db 0), the listener on
--mllp-port (default: a free port), then:

- phase 1 (throughput): N ORU^R01 messages, one sodium result each, realistic trajectories
  over many patients (some overcorrecting), sent over K MLLP connections as fast as the ACKs
  come back; sustained results/s from the first send to the last inbox row committed as done,
  and p50/p95/p99 of send->ACK, send->processed and send->alert;
- phase 2 (latency): R results/s paced for --rate-seconds; the same percentiles;
- the limits beside it, in the same run: PostgreSQL multi-row INSERT rows/s into a scratch
  table of the bench database, and Redis LPUSH/BRPOP round trips/s on db 14;
- the RSS of the worker processes (Celery main process and its children, /proc VmRSS),
  sampled every few seconds; `--memory-run` drives --memory-messages results instead of the
  two phases, to show whether it stays flat;
- per phase, CPU per result of each process: the listener, the worker's main process, each
  worker child, and each PostgreSQL backend of the bench database (found in pg_stat_activity
  and credited to the process that owns the client end of its connection), from
  /proc/<pid>/stat utime+stime at each sample (a process that exits between samples loses
  its last few seconds; a database on another host has no backends in this /proc);
- per phase, what the database did per result, from the cumulative statistics (the bench's
  own observer and snapshot queries subtracted): transactions (pg_stat_database xact_commit +
  xact_rollback), table scans (pg_stat_user_tables seq_scan + idx_scan: at least one per
  statement that reads a table) and rows written (n_tup_ins + n_tup_upd + n_tup_del).
  Statements themselves are not counted: that needs pg_stat_statements in
  shared_preload_libraries, which a stock server does not load.

Times: the client stamps each send with the wall clock; `inbox.processed_at` is the `now` the
worker took when it started the row (a lower bound of the commit); an observer polls the inbox
every 50-100 ms and stamps the moment it sees a row done (an upper bound of the commit, late by
at most one poll). An alert is committed in the same transaction as the inbox row of the
result that raised it, so send->alert is send->processed for those messages. Same machine,
same clock. Every loop has a count and a timeout; only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import redis
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.hl7_builders import oru  # noqa: E402
from tests.integration.stack import CLI, MllpConnection, free_port, port_open  # noqa: E402

HOST = "127.0.0.1"  # the listener and the client: loopback only
DATABASE_URL = f"postgresql+psycopg://postgres@{HOST}:5432/sodium_monitor_bench"
BROKER_URL = f"redis://{HOST}:6379/14"
WARDS = ("MED1", "MED2", "MED3", "ICU1", "NEPH", "GER2", "SURG", "ONC1")


# --------------------------------------------------------------------------- helpers

def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(values: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in values]
    out: dict[str, Any] = {"n": len(ms)}
    for q in (50, 95, 99):
        v = pct(ms, q)
        out[f"p{q}"] = None if v is None else round(v, 1)
    out["max"] = round(max(ms), 1) if ms else None
    return out


def wait_for(predicate: Callable[[], bool], timeout: float, what: str,
             every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- database, redis

@dataclass(frozen=True)
class Target:
    """Where the run goes: the database and Redis db the processes use, the listener's port."""

    database_url: str = DATABASE_URL
    broker_url: str = BROKER_URL
    mllp_port: int = 0  # 0: a free port

    def __post_init__(self) -> None:
        if "bench" not in self.db_name:
            raise SystemExit(f"--database-url: {self.db_name!r} has no 'bench' in its name; "
                             "its schema is dropped on every run")
        if not redis.Redis.from_url(self.broker_url).connection_pool.connection_kwargs.get("db"):
            raise SystemExit("--redis-url: name a db number other than 0; it is flushed")

    @property
    def db_name(self) -> str:
        return str(make_url(self.database_url).database)

    @property
    def pg_bench(self) -> str:
        """The libpq URI of the bench database."""
        url = make_url(self.database_url).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    @property
    def pg_admin(self) -> str:
        url = make_url(self.database_url).set(drivername="postgresql", database="postgres")
        return url.render_as_string(hide_password=False)


def reset_database(target: Target) -> None:
    """Create the bench database if missing; drop and recreate its schema (nothing else)."""
    with psycopg.connect(target.pg_admin, autocommit=True, connect_timeout=5) as c:
        if c.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                     (target.db_name,)).fetchone() is None:
            c.execute(f'CREATE DATABASE "{target.db_name}"')
    with psycopg.connect(target.pg_bench, autocommit=True, connect_timeout=5) as c:
        c.execute("DROP SCHEMA IF EXISTS public CASCADE")
        c.execute("CREATE SCHEMA public")


def reset_redis(target: Target) -> None:
    client = redis.Redis.from_url(target.broker_url, socket_timeout=5)
    client.flushdb()
    client.close()


# Cumulative statistics of the bench database: name -> query.
PG_COUNTERS = {
    "transactions": "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                    "WHERE datname = current_database()",
    "table_scans": "SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0) "
                   "FROM pg_stat_user_tables",
    "rows_written": "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) "
                    "FROM pg_stat_user_tables",
}
# Backends report their statistics when idle at most every 10 s (PGSTAT_IDLE_INTERVAL).
PG_STATS_FLUSH_S = 11.0


def pg_counters(target: Target) -> dict[str, int]:
    """One snapshot, in one transaction of its own (which the next snapshot counts)."""
    with psycopg.connect(target.pg_bench, autocommit=True, connect_timeout=5) as c:
        c.execute("SELECT pg_stat_clear_snapshot()")
        out = {}
        for name, sql in PG_COUNTERS.items():
            row = c.execute(sql).fetchone()
            out[name] = int(row[0]) if row and row[0] is not None else 0
        return out


# --------------------------------------------------------------------------- processes

@dataclass
class Stack:
    workdir: Path
    target: Target
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    port: int = 0
    observer: Observer | None = None
    # Worker processes: a worker waits on PostgreSQL for about half of a batch, so on 2
    # cores more processes than cores keep the CPU busy (docs/benchmarks.md).
    worker_processes: int = 2

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith("SODIUM_")}
        return {**keep, "SODIUM_DATABASE_URL": self.target.database_url,
                "SODIUM_BROKER_URL": self.target.broker_url}

    def run(self, *args: str, timeout: float = 120) -> None:
        out = subprocess.run([CLI, *args], env=self.env(), cwd=self.workdir, timeout=timeout,
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"sodium-monitor {' '.join(args)} failed: {out.stderr[-2000:]}")

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        logfile = (self.workdir / f"{name}.log").open("wb")
        proc = subprocess.Popen([CLI, *args], env=self.env(), cwd=self.workdir, stdout=logfile,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = proc
        return proc

    def up(self) -> None:
        self.run("db", "upgrade")
        self.port = self.target.mllp_port or free_port()
        self.start("mllp", "mllp", "--host", HOST, "--port", str(self.port))
        self.start("worker", "worker", "--concurrency", str(self.worker_processes),
                   "--loglevel", "WARNING")
        # As deployed: the scheduler's sweeps and its planner-statistics job run too.
        self.start("scheduler", "scheduler")
        wait_for(lambda: port_open(self.port), 60, "the MLLP listener")
        self.check_alive()
        ping_worker(self.target.broker_url, 60)

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def stop(self, name: str) -> None:
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)  # the session this script started for it
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    def down(self) -> None:
        for name in list(reversed(self.processes)):
            self.stop(name)


def ping_worker(broker_url: str, timeout: float) -> None:
    """Round trip through the broker and a worker process (the `sodium.ping` task)."""
    from celery import Celery

    app = Celery("bench", broker=broker_url)
    app.conf.update(task_serializer="json", accept_content=["json"])
    key = f"bench-ping-{uuid.uuid4().hex}"
    app.send_task("sodium.ping", args=[key, broker_url])
    client = redis.Redis.from_url(broker_url, socket_timeout=5)
    try:
        wait_for(lambda: client.get(key) is not None, timeout, "a worker to answer a ping")
        client.delete(key)
    finally:
        client.close()
        app.close()


# --------------------------------------------------------------------------- /proc sampling

def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def rss_kib(pid: int) -> int | None:
    status = _read(f"/proc/{pid}/status")
    if status is None:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds user+system)."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    rest = stat[stat.rfind(")") + 2:].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(rest[1]), (int(rest[11]) + int(rest[12])) / tick


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy (all processes, all cores) since boot."""
    fields = (_read("/proc/stat") or "cpu 0 0 0 0 0").splitlines()[0].split()[1:]
    ticks = [int(v) for v in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def loadavg() -> str:
    return " ".join((_read("/proc/loadavg") or "").split()[:3])


def comm(pid: int) -> str:
    return (_read(f"/proc/{pid}/comm") or "").strip()


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(int(entry))
            if st is not None and st[0] == pid:
                out.append(int(entry))
    return sorted(out)


def socket_ports(pid: int) -> set[int]:
    """The local TCP ports of the sockets process `pid` holds open."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in (_read(f"/proc/{pid}/net/{table}") or "").splitlines()[1:]:
            cols = line.split()
            if len(cols) > 9 and cols[9] in inodes:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


class Sampler:
    """Every `every` seconds: RSS of the worker tree and of the listener; CPU seconds by
    component (listener, worker main, worker children, postgres, redis, this client) and by
    process: the listener, the worker's main process and each child, and each backend of the
    bench database, named for the process at the client end of its connection."""

    def __init__(self, stack: Stack, every: float, done_count: Callable[[], int]) -> None:
        self.stack, self.every, self.done_count = stack, every, done_count
        self.samples: list[dict[str, Any]] = []
        self.cpu_seen: dict[int, tuple[str, float]] = {}
        self.child_pids: set[int] = set()
        # pid -> [label, CPU seconds when first seen (0 if born during the run), latest]
        self.processes: dict[int, list[Any]] = {}
        self._first, self._frozen = True, False
        # In the maintenance database, so that its queries are not the bench database's.
        self.pg = psycopg.connect(stack.target.pg_admin, autocommit=True, connect_timeout=5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _component(self, pid: int, worker: int, listener: int, kids: set[int]) -> str | None:
        if pid == listener:
            return "listener"
        if pid == worker:
            return "worker_main"
        if pid in kids:
            return "worker_children"
        if pid == os.getpid():
            return "bench_client"
        name = comm(pid)
        if name.startswith("postgres"):
            cmdline = _read(f"/proc/{pid}/cmdline") or ""
            if f" {self.stack.target.db_name} " in cmdline.replace("\0", " "):
                return "postgres_bench_backends"
            if " postgres " in cmdline.replace("\0", " ") or "127.0.0.1(" in cmdline:
                return None  # a backend of another database: counted in "other"
            return "postgres_shared"  # checkpointer, WAL writer, ...: shared with others
        if name.startswith("redis-server"):
            return "redis"
        return None

    def sample(self) -> dict[str, Any]:
        worker = self.stack.processes["worker"].pid
        listener = self.stack.processes["mllp"].pid
        kids = children(worker)
        self.child_pids |= set(kids)
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            what = self._component(pid, worker, listener, set(kids))
            st = proc_stat(pid) if what else None
            if what and st is not None:
                self.cpu_seen[pid] = (what, st[1])
        self._per_process(worker, listener, kids)
        child_rss = {pid: rss_kib(pid) for pid in kids}
        sample = {"t": time.time(), "done": self.done_count(),
                  "worker_main_mib": round((rss_kib(worker) or 0) / 1024, 1),
                  "worker_children_mib": [round((v or 0) / 1024, 1) for v in child_rss.values()],
                  "worker_children_pids": kids,
                  "listener_mib": round((rss_kib(listener) or 0) / 1024, 1)}
        sample["worker_total_mib"] = round(sample["worker_main_mib"]
                                           + sum(sample["worker_children_mib"]), 1)
        self.samples.append(sample)
        return sample

    def mark_start(self) -> None:
        """CPU by process counts from here (not the waits before)."""
        self.sample()
        for seen in self.processes.values():
            seen[1] = seen[2]

    def mark_end(self) -> None:
        """... and up to here."""
        self.sample()
        self._frozen = True

    def _per_process(self, worker: int, listener: int, kids: list[int]) -> None:
        if self._frozen:
            return
        scheduler = self.stack.processes["scheduler"].pid
        owners = {listener: "listener", worker: "worker_main", os.getpid(): "bench",
                  scheduler: "scheduler",
                  **{k: f"worker[{k}]" for k in kids}}
        backends = self.pg.execute(
            "SELECT pid, client_port FROM pg_stat_activity WHERE datname = %s "
            "AND backend_type = 'client backend'", (self.stack.target.db_name,)).fetchall()
        by_port = {port: name for pid, name in owners.items() for port in socket_ports(pid)}
        labels = {**owners, **{pid: f"postgres[{pid}] for {by_port.get(port, 'other')}"
                               for pid, port in backends}}
        for pid, label in labels.items():
            st = proc_stat(pid)
            if st is None:
                continue
            seen = self.processes.setdefault(pid, [label, st[1] if self._first else 0.0, 0.0])
            seen[2] = st[1]
        self._first = False

    def per_result(self, results: int) -> dict[str, Any]:
        """CPU ms per result: by process, and summed for the listener and its backends, the
        worker processes and theirs (the bench's own connections left out)."""
        n = max(1, results)
        ms = {label: (last - first) * 1000 / n for label, first, last in self.processes.values()}
        groups = {"listener": 0.0, "postgres_for_listener": 0.0, "workers": 0.0,
                  "postgres_for_workers": 0.0, "postgres_for_other": 0.0}
        for label, v in ms.items():
            owner = label.partition(" for ")[2] or label
            if owner == "bench":
                continue
            group = ("listener" if owner == "listener" else
                     "scheduler" if owner == "scheduler" else
                     "workers" if owner.startswith("worker") else "other")
            key = f"postgres_for_{group}" if label.startswith("postgres[") else group
            groups[key] = groups.get(key, 0.0) + v
        # The acceptance's sum: what the path of a result costs. The scheduler's timed checks
        # and connections of other processes are reported beside it, not in it.
        total = sum(groups[k] for k in ("listener", "postgres_for_listener", "workers",
                                        "postgres_for_workers"))
        return {"results": results, "total": round(total, 3),
                **{k: round(v, 3) for k, v in groups.items()},
                "by_process": {k: round(v, 3) for k, v in sorted(ms.items()) if v > 0}}

    def cpu(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for what, seconds in self.cpu_seen.values():
            totals[what] = totals.get(what, 0.0) + seconds
        totals["machine_busy"] = machine_busy()
        return totals

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(Exception):
                self.sample()

    def __enter__(self) -> Sampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        with contextlib.suppress(Exception):
            self.sample()
        self.pg.close()


# --------------------------------------------------------------------------- the feed

@dataclass
class Message:
    control_id: str
    patient: str
    shard: int
    text: str
    sent: float = 0.0
    acked: float = 0.0
    ack: str = ""


def trajectory(rng: random.Random, n: int, fast_fraction: float) -> list[tuple[float, float]]:
    """(hours since the first result, mmol/L): a nadir, then correction at a per-patient
    rate; `fast_fraction` of the patients correct too fast (e.g. aquaresis)."""
    value = rng.uniform(110, 130)
    fast = rng.random() < fast_fraction
    per_day = rng.uniform(10, 16) if fast else rng.uniform(1, 6)
    hours, points = 0.0, []
    for _ in range(n):
        points.append((hours, round(value + rng.gauss(0, 0.7))))
        step = rng.choice((4, 6, 6, 8, 12))
        hours += step
        value = min(value + per_day * step / 24, 142)
    return points


def make_feed(tag: str, count: int, per_patient: int, connections: int, seed: int,
              fast_fraction: float) -> list[Message]:
    """`count` ORU^R01 messages in collection-time order (the order a lab sends them); each
    patient's messages go over one connection, so they arrive in order."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    rows: list[tuple[datetime, int, str, float, str]] = []
    patients = max(1, count // per_patient)
    for p in range(patients):
        points = trajectory(rng, per_patient, fast_fraction)
        # Each trajectory ends within the last two hours (results sent soon after collection).
        end = now - timedelta(minutes=rng.randrange(5, 120))
        ward = rng.choice(WARDS)
        for hours, value in points:
            rows.append((end - timedelta(hours=points[-1][0] - hours), p, ward, value,
                         f"{tag}P{p:06d}"))
    rows.sort()
    rows = rows[:count]
    feed = []
    for i, (collected, p, ward, value, mrn) in enumerate(rows):
        control = f"{tag}{i:08d}"
        text = oru(mrn, f"{tag}O{i:08d}", collected, value, control_id=control, ward=ward,
                   received=now)
        feed.append(Message(control, mrn, p % connections, text))
    return feed


# --------------------------------------------------------------------------- MLLP client

def mllp_client(port: int) -> MllpConnection:
    """The tests' MLLP client, with Nagle off: one small frame in flight per connection."""
    client = MllpConnection(port)
    client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client


def ack_code(ack: str) -> str:
    for segment in ack.replace("\n", "\r").split("\r"):
        if segment.startswith("MSA"):
            return segment.split("|")[1]
    return "?"


def drive(port: int, feed: list[Message], connections: int, rate: float | None,
          timeout: float) -> None:
    """Send the feed over `connections` sockets (one thread each, one message in flight per
    connection); paced at `rate` messages/s overall, or as fast as the ACKs come back."""
    start = time.time() + 0.2
    deadline = time.monotonic() + timeout
    errors: list[BaseException] = []

    def run(shard: int) -> None:
        try:
            client = mllp_client(port)
            try:
                for i, msg in enumerate(feed):
                    if msg.shard != shard:
                        continue
                    if time.monotonic() > deadline:
                        raise TimeoutError("sending took longer than the timeout")
                    if rate:
                        delay = start + i / rate - time.time()
                        if delay > 0:
                            time.sleep(delay)
                    msg.sent = time.time()
                    msg.ack = ack_code(client.send(msg.text))
                    msg.acked = time.time()
            finally:
                client.close()
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout + 30)
    if errors:
        raise RuntimeError(f"MLLP client failed: {errors[0]!r}")
    if any(t.is_alive() for t in threads):
        raise TimeoutError("an MLLP client thread did not finish")


# --------------------------------------------------------------------------- observer

class Observer:
    """Polls the inbox and stamps the moment each row is first seen done (committed).

    Cheap on purpose (it runs beside the benchmark): a primary-key window that follows the
    highest row seen done (the workers take rows roughly in arrival order), plus the rows
    left pending behind it, looked up by id.
    """

    WINDOW = 4000
    BEHIND = 1000  # the window starts this many ids below the highest row seen done

    def __init__(self, pg_bench: str, every: float) -> None:
        self.every = every
        self.seen: dict[str, float] = {}  # message_id -> observed time
        self.low = 0
        self.behind: set[int] = set()  # pending rows below the window
        self.polls = 0
        self.transactions = 0  # its own, in the bench database (autocommit: one a statement)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.conn = psycopg.connect(pg_bench, autocommit=True, connect_timeout=5)

    def poll(self) -> None:
        rows = self.conn.execute(
            "SELECT id, message_id, state FROM inbox WHERE id >= %s ORDER BY id LIMIT %s",
            (self.low, self.WINDOW)).fetchall()
        self.transactions += 1
        if self.behind:
            self.transactions += 1
            rows += self.conn.execute(
                "SELECT id, message_id, state FROM inbox WHERE id = ANY(%s)",
                (sorted(self.behind)[:20_000],)).fetchall()
        stamp = time.time()
        self.polls += 1
        with self._lock:
            top = None
            for rid, mid, state in rows:
                if state == "pending":
                    continue
                self.behind.discard(rid)
                top = rid if top is None else max(top, rid)
                if mid is not None and mid not in self.seen:
                    self.seen[mid] = stamp
            new_low = max(self.low, (top or 0) - self.BEHIND)
            self.behind |= {rid for rid, _, state in rows
                            if state == "pending" and rid < new_low}
            self.low = new_low

    def count(self, ids: set[str] | None = None) -> int:
        with self._lock:
            return len(self.seen) if ids is None else sum(1 for i in ids if i in self.seen)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(psycopg.Error):
                self.poll()

    def start(self) -> Observer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling and take one last look."""
        self._stop.set()
        self._thread.join(timeout=10)
        with contextlib.suppress(psycopg.Error):
            self.poll()
        self.conn.close()


# --------------------------------------------------------------------------- a phase

def wait_done(observer: Observer, feed: list[Message], timeout: float,
              stall: float = 90) -> int:
    """Wait until every accepted message is seen done; returns how many are not. Rows whose
    task never reached a worker stay pending (no sweeper runs here): after `stall` seconds
    without progress they are reported, not waited for."""
    ids = {m.control_id for m in feed if m.ack == "AA"}
    last, stalled_since = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = observer.count(ids)
        if done >= len(ids):
            return 0
        if done != last:
            last, stalled_since = done, time.monotonic()
        elif time.monotonic() - stalled_since > stall:
            log(f"no progress for {stall:.0f} s: {len(ids) - done} rows still pending")
            return len(ids) - done
        time.sleep(0.2)
    log(f"timeout after {timeout:.0f} s: {len(ids) - observer.count(ids)} rows still pending")
    return len(ids) - observer.count(ids)


def measure(pg_bench: str, feed: list[Message], observer: Observer) -> dict[str, Any]:
    """Join the client's send times with the inbox and the alerts."""
    ids = [m.control_id for m in feed]
    with psycopg.connect(pg_bench, connect_timeout=5) as c:
        processed = dict(c.execute(
            "SELECT message_id, extract(epoch FROM processed_at)::float8 FROM inbox "
            "WHERE message_id = ANY(%s) AND state = 'done'", (ids,)).fetchall())
        states = dict(c.execute(
            "SELECT state, count(*) FROM inbox WHERE message_id = ANY(%s) GROUP BY state",
            (ids,)).fetchall())
        # The message whose result raised each alert: its 'raised' event names the result.
        raised = c.execute(
            "SELECT i.message_id, a.rule, extract(epoch FROM a.created_at)::float8 "
            "FROM alert_events e JOIN alerts a ON a.id = e.alert_id "
            "JOIN results r ON r.patient_id = a.patient_id AND r.inbox_id IS NOT NULL "
            "  AND r.source_feed || '|' || r.result_key = e.details->>'result_key' "
            "JOIN inbox i ON i.id = r.inbox_id "
            "WHERE e.action = 'raised' AND i.message_id = ANY(%s)", (ids,)).fetchall()
    by_id = {m.control_id: m for m in feed}
    sent = [m for m in feed if m.sent]
    acked_ok = [m for m in sent if m.ack == "AA"]
    first_send = min(m.sent for m in sent)
    last_ack = max(m.acked for m in sent)
    seen = observer.seen
    last_observed = max((seen[m.control_id] for m in acked_ok if m.control_id in seen),
                        default=None)
    last_processed = max((processed[m.control_id] for m in acked_ok
                          if m.control_id in processed), default=None)
    ack_lat = [m.acked - m.sent for m in sent]
    proc_lat = [processed[m.control_id] - m.sent for m in acked_ok if m.control_id in processed]
    obs_lat = [seen[m.control_id] - m.sent for m in acked_ok if m.control_id in seen]
    alert_ids = {mid for mid, _, _ in raised}
    alert_created = [created - by_id[mid].sent for mid, _, created in raised]
    alert_obs = [seen[mid] - by_id[mid].sent for mid in alert_ids if mid in seen]
    rules: dict[str, int] = {}
    for _, rule, _ in raised:
        rules[rule] = rules.get(rule, 0) + 1
    n = sum(1 for m in acked_ok if m.control_id in seen)
    out: dict[str, Any] = {
        "messages": len(feed), "sent": len(sent), "results_done": n, "acks": {
            code: sum(1 for m in sent if m.ack == code) for code in sorted({m.ack for m in sent})},
        "inbox_states": states,
        "patients": len({m.patient for m in feed}),
        "send_seconds": round(last_ack - first_send, 2),
        "ack_rate_per_s": round(len(sent) / (last_ack - first_send), 1),
        "latency_ms": {
            "send_to_ack": summary_ms(ack_lat),
            "send_to_processed_at": summary_ms(proc_lat),
            "send_to_seen_done": summary_ms(obs_lat),
            "send_to_alert_created_at": summary_ms(alert_created),
            "send_to_alert_seen": summary_ms(alert_obs),
        },
        "alerts_raised": len(raised), "alerts_by_rule": rules,
        "messages_raising_alerts": len(alert_ids),
    }
    if last_observed:
        out["seconds_to_last_seen_done"] = round(last_observed - first_send, 2)
        out["results_per_s_sustained"] = round(n / (last_observed - first_send), 1)
    if last_processed:
        out["results_per_s_by_processed_at"] = round(n / (last_processed - first_send), 1)
    return out


def run_phase(name: str, stack: Stack, feed: list[Message], connections: int,
              rate: float | None, poll: float, timeout: float,
              sampler: Sampler | None = None) -> dict[str, Any]:
    log(f"{name}: {len(feed)} messages over {connections} connections"
        + (f" at {rate:g}/s" if rate else " as fast as ACKs return"))
    target = stack.target
    time.sleep(PG_STATS_FLUSH_S)  # what came before is in the statistics
    before = pg_counters(target)
    observer = stack.observer = Observer(target.pg_bench, poll).start()
    if sampler is not None:
        sampler.mark_start()
    try:
        drive(stack.port, feed, connections, rate, timeout)
        stack.check_alive()
        log(f"{name}: all sent, waiting for the workers")
        stuck = wait_done(observer, feed, timeout)
        time.sleep(poll * 2)
    finally:
        if sampler is not None:
            sampler.mark_end()
        observer.stop()
        stack.observer = None
    stack.check_alive()
    time.sleep(PG_STATS_FLUSH_S)
    after = pg_counters(target)
    result = measure(target.pg_bench, feed, observer)
    result["left_pending"] = stuck
    done = max(1, result["results_done"])
    # The observer's statements and the first snapshot's transaction are the bench's own.
    ours = {"transactions": observer.transactions + 1,
            "table_scans": observer.transactions}
    result["database_per_result"] = {
        k: round((after[k] - before[k] - ours.get(k, 0)) / done, 2) for k in PG_COUNTERS}
    if rate:
        result["target_rate_per_s"] = rate
    log(f"{name}: {json.dumps(result['latency_ms'])}")
    return result


# --------------------------------------------------------------------------- limits

def pg_insert_limit(pg_bench: str, rows: int, batch: int) -> dict[str, Any]:
    """Multi-row INSERT ... VALUES of `batch` rows per statement into a scratch table."""
    payload = "x" * 200
    with psycopg.connect(pg_bench, connect_timeout=5) as c:
        c.execute("DROP TABLE IF EXISTS bench_scratch")
        c.execute("CREATE TABLE bench_scratch (id bigserial PRIMARY KEY, patient integer, "
                  "value double precision, at timestamptz, note text)")
        c.commit()
        now = datetime.now(UTC)
        values_sql = ",".join(["(%s,%s,%s,%s)"] * batch)
        statement = f"INSERT INTO bench_scratch (patient, value, at, note) VALUES {values_sql}"
        began = time.perf_counter()
        for b in range(rows // batch):
            params: list[Any] = []
            for i in range(batch):
                params += [b * batch + i, 130.0 + i % 10, now, payload]
            c.execute(statement, params)
            c.commit()
        elapsed = time.perf_counter() - began
        count = c.execute("SELECT count(*) FROM bench_scratch").fetchone()
        c.execute("DROP TABLE bench_scratch")
        c.commit()
    return {"rows": count[0] if count else 0, "batch": batch, "seconds": round(elapsed, 2),
            "rows_per_s": round(rows / elapsed), "commit_per_batch": True}


def pg_commit_limit(pg_bench: str, commits: int) -> dict[str, Any]:
    """One-row INSERT + COMMIT per transaction: the durable-commit ceiling (fsync)."""
    with psycopg.connect(pg_bench, connect_timeout=5) as c:
        c.execute("CREATE TABLE IF NOT EXISTS bench_commits (id bigserial PRIMARY KEY, v int)")
        c.commit()
        began = time.perf_counter()
        for i in range(commits):
            c.execute("INSERT INTO bench_commits (v) VALUES (%s)", (i,))
            c.commit()
        elapsed = time.perf_counter() - began
        c.execute("DROP TABLE bench_commits")
        c.commit()
    return {"commits": commits, "seconds": round(elapsed, 2),
            "commits_per_s": round(commits / elapsed)}


def redis_limit(broker_url: str, trips: int) -> dict[str, Any]:
    """One producer and one consumer on the bench db: LPUSH, the consumer BRPOPs and LPUSHes a
    reply, the producer BRPOPs the reply: `trips` sequential round trips."""
    key, back = f"bench:{uuid.uuid4().hex}", f"bench:{uuid.uuid4().hex}"
    producer = redis.Redis.from_url(broker_url, socket_timeout=10)
    consumer = redis.Redis.from_url(broker_url, socket_timeout=10)
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            for _ in range(trips):
                got = consumer.brpop([key], timeout=5)
                if got is None:
                    raise TimeoutError("consumer saw nothing for 5 s")
                consumer.lpush(back, got[1])
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    began = time.perf_counter()
    for i in range(trips):
        producer.lpush(key, str(i))
        if producer.brpop([back], timeout=5) is None:
            raise TimeoutError(f"no reply for round trip {i}: {errors!r}")
    elapsed = time.perf_counter() - began
    thread.join(timeout=10)
    producer.delete(key, back)
    producer.close()
    consumer.close()
    return {"round_trips": trips, "seconds": round(elapsed, 2),
            "round_trips_per_s": round(trips / elapsed),
            "note": "Python redis-py client, both ends in this process (GIL shared)"}


# --------------------------------------------------------------------------- profile

def profile_worker(stack: Stack, count: int, workdir: Path) -> dict[str, Any]:
    """Stop the worker, receive `count` messages over MLLP (they stay pending), then run the
    worker's task function in this process under cProfile, counting SQL statements."""
    from sqlalchemy import event

    target = stack.target
    os.environ["SODIUM_DATABASE_URL"], os.environ["SODIUM_BROKER_URL"] = target.database_url, ""
    from monitor.config import Settings
    from monitor.runtime import Runtime
    from monitor.runtime.drain import run_batch, run_inbox

    stack.stop("worker")
    feed = make_feed("F", count, 10, 2, 11, 0.1)
    drive(stack.port, feed, 2, None, 300)
    reset_redis(target)  # the tasks the listener queued: nobody is listening, processed below
    with psycopg.connect(target.pg_bench, connect_timeout=5) as c:
        ids = [r[0] for r in c.execute(
            "SELECT id FROM inbox WHERE state = 'pending' ORDER BY id").fetchall()]
    rt = Runtime(Settings(database_url=target.database_url, broker_url=""))
    statements: dict[str, int] = {"n": 0}
    sql_time: dict[str, float] = {"s": 0.0}
    started: dict[int, float] = {}

    @event.listens_for(rt.engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: Any, params: Any, ctx: Any, many: Any) -> None:
        statements["n"] += 1
        started[id(cursor)] = time.perf_counter()

    @event.listens_for(rt.engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: Any, params: Any, ctx: Any, many: Any) -> None:
        sql_time["s"] += time.perf_counter() - started.pop(id(cursor), time.perf_counter())

    for inbox_id in ids[:10]:  # warm-up: imports, pool, compiled-statement cache
        run_inbox(rt, inbox_id)
    half = (len(ids) + 10) // 2
    # First half timed plainly (one process, nothing else running); second half profiled.
    began = time.perf_counter()
    for chunk in range(10, half, 200):  # batches of the worker's size, as a worker claims
        run_batch(rt, ids[chunk:min(half, chunk + 200)])
    plain_ms = (time.perf_counter() - began) / max(1, half - 10) * 1000
    statements["n"], sql_time["s"] = 0, 0.0
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    for chunk in range(half, len(ids), 200):
        run_batch(rt, ids[chunk:chunk + 200])
    profiler.disable()
    elapsed = time.perf_counter() - began
    n = max(1, len(ids) - half)
    profiler.dump_stats(str(workdir / "worker.prof"))
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(45)
    (workdir / "worker-profile.txt").write_text(text.getvalue())
    rt.engine.dispose()
    return {"items": n, "ms_per_item_plain": round(plain_ms, 2), "seconds": round(elapsed, 2),
            "ms_per_item_profiled": round(elapsed / n * 1000, 2),
            "sql_statements_per_item": round(statements["n"] / n, 1),
            "sql_wall_ms_per_item": round(sql_time["s"] / n * 1000, 2),
            "profile": str(workdir / "worker-profile.txt")}


# --------------------------------------------------------------------------- report

def memory_summary(samples: list[dict[str, Any]], child_pids: set[int]) -> dict[str, Any]:
    if not samples:
        return {}
    picks = {"first": samples[0], "middle": samples[len(samples) // 2], "last": samples[-1]}
    return {
        "samples": len(samples),
        "worker_child_processes_seen": len(child_pids),
        **{name: {k: s[k] for k in ("done", "worker_main_mib", "worker_children_mib",
                                    "worker_total_mib", "listener_mib")}
           | {"at_s": round(s["t"] - samples[0]["t"], 1)}
           for name, s in picks.items()},
        "worker_total_mib_min": min(s["worker_total_mib"] for s in samples),
        "worker_total_mib_max": max(s["worker_total_mib"] for s in samples),
    }


def fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:,}" if isinstance(v, int) else str(v))


def markdown(result: dict[str, Any]) -> str:
    lines = ["| measure | value |", "|---|---|"]

    def row(name: str, value: Any) -> None:
        lines.append(f"| {name} | {fmt(value)} |")

    for phase in ("phase1_throughput", "phase2_fixed_rate", "memory_run"):
        p = result.get(phase)
        if not p:
            continue
        label = {"phase1_throughput": "phase 1", "phase2_fixed_rate": "phase 2",
                 "memory_run": "memory run"}[phase]
        row(f"{label}: messages / patients / ACKs", f"{p['messages']} / {p['patients']} / "
            + ", ".join(f"{k} {v}" for k, v in p["acks"].items()))
        if "target_rate_per_s" in p:
            row(f"{label}: offered rate (results/s)", p["target_rate_per_s"])
        row(f"{label}: ACK rate (results/s, listener)", p["ack_rate_per_s"])
        row(f"{label}: sustained results/s (first send -> last row seen done)",
            p.get("results_per_s_sustained"))
        for key, title in (("send_to_ack", "send->ACK"),
                           ("send_to_processed_at", "send->processed_at"),
                           ("send_to_seen_done", "send->seen done"),
                           ("send_to_alert_created_at", "send->alert created_at"),
                           ("send_to_alert_seen", "send->alert seen committed")):
            s = p["latency_ms"][key]
            row(f"{label}: {title} p50 / p95 / p99 / max ms (n)",
                f"{fmt(s['p50'])} / {fmt(s['p95'])} / {fmt(s['p99'])} / {fmt(s['max'])} "
                f"({s['n']})")
        row(f"{label}: alerts raised", f"{p['alerts_raised']} {p['alerts_by_rule']}")
        row(f"{label}: rows left pending at the end (task never ran)", p.get("left_pending"))
        if p.get("cpu_ms_per_result"):
            c = p["cpu_ms_per_result"]
            row(f"{label}: CPU ms per result (listener + its PostgreSQL backends, workers + "
                f"theirs; {c['results']} results)", f"{c['total']} = {c['listener']} + "
                f"{c['postgres_for_listener']} + {c['workers']} + {c['postgres_for_workers']}")
            row(f"{label}: beside it: scheduler + its PostgreSQL backends, other backends "
                f"of the bench database (CPU ms per result)",
                f"{c.get('scheduler', 0.0)} + {c.get('postgres_for_scheduler', 0.0)}, "
                f"{c.get('postgres_for_other', 0.0)}")
            row(f"{label}: CPU ms per result by process", ", ".join(
                f"{k} {v}" for k, v in c["by_process"].items()))
        if p.get("database_per_result"):
            d = p["database_per_result"]
            row(f"{label}: per result: transactions / table scans / rows written",
                f"{d['transactions']} / {d['table_scans']} / {d['rows_written']}")
        if p.get("cpu_seconds"):
            row(f"{label}: CPU seconds over {p['wall_seconds']} s wall (2 cores = "
                f"{round(2 * p['wall_seconds'])} s)", ", ".join(
                f"{k} {v}" for k, v in sorted(p["cpu_seconds"].items())))
    limits = result.get("limits", {})
    if "postgres_insert" in limits:
        pg = limits["postgres_insert"]
        row("PostgreSQL multi-row INSERT (rows/s)",
            f"{pg['rows_per_s']:,} ({pg['rows']:,} rows, batches of {pg['batch']})")
    if "postgres_commit" in limits:
        row("PostgreSQL 1-row INSERT+COMMIT (commits/s)", limits["postgres_commit"]
            ["commits_per_s"])
    if "redis_round_trip" in limits:
        r = limits["redis_round_trip"]
        row("Redis LPUSH/BRPOP round trips/s", f"{r['round_trips_per_s']:,} "
            f"({r['round_trips']:,} trips)")
    mem = result.get("worker_memory", {})
    for name in ("first", "middle", "last"):
        if name in mem:
            s = mem[name]
            row(f"worker RSS {name} (at {s['at_s']} s, {s['done']} done)",
                f"total {s['worker_total_mib']} MiB = main {s['worker_main_mib']} + "
                f"children {s['worker_children_mib']}; listener {s['listener_mib']} MiB")
    if mem:
        row("worker RSS min / max over the run (MiB)",
            f"{mem['worker_total_mib_min']} / {mem['worker_total_mib_max']} "
            f"({mem['samples']} samples, {mem['worker_child_processes_seen']} child pids)")
    if result.get("profile"):
        p = result["profile"]
        row("worker task in-process, one process", f"{p['ms_per_item_plain']} ms/item plain, "
            f"{p['ms_per_item_profiled']} ms/item under cProfile, "
            f"{p['sql_statements_per_item']} SQL statements/item, "
            f"{p['sql_wall_ms_per_item']} ms/item in SQL")
    return "\n".join(lines)


@contextlib.contextmanager
def running_stack(workdir: Path, target: Target,
                  worker_processes: int = 2) -> Iterator[Stack]:
    reset_database(target)
    reset_redis(target)
    stack = Stack(workdir, target, worker_processes=worker_processes)
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
        with contextlib.suppress(Exception):
            reset_redis(target)


def warm_up(stack: Stack, connections: int) -> None:
    """A few hundred messages first: imports, connection pools, statement caches."""
    feed = make_feed("W", 200, 2, connections, 3, 0.1)
    observer = Observer(stack.target.pg_bench, 0.1).start()
    try:
        drive(stack.port, feed, connections, None, 120)
        wait_done(observer, feed, 120)
    finally:
        observer.stop()


def with_sampling(stack: Stack, every: float, fn: Callable[[Sampler], dict[str, Any]]
                  ) -> tuple[dict[str, Any], Sampler]:
    def done() -> int:  # rows seen done by the phase's observer (no extra query)
        observer = stack.observer
        return observer.count() if observer is not None else 0

    sampler = Sampler(stack, every, done)
    with sampler:
        before = sampler.cpu()
        result = fn(sampler)
    after = sampler.cpu()
    cpu = {k: round(after.get(k, 0) - before.get(k, 0), 1) for k in after}
    ours = sum(v for k, v in cpu.items() if k not in ("machine_busy", "postgres_shared"))
    # Busy time of everything else on the machine (other engineers' tests, ...).
    cpu["other_processes"] = round(cpu["machine_busy"] - ours - cpu.get("postgres_shared", 0), 1)
    result["cpu_seconds"] = cpu
    result["cpu_ms_per_result"] = sampler.per_result(result.get("results_done", 0))
    result["wall_seconds"] = round(sampler.samples[-1]["t"] - sampler.samples[0]["t"], 1)
    result["loadavg_at_end"] = loadavg()
    return result, sampler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000, help="phase 1 results")
    parser.add_argument("--connections", type=int, default=4, help="MLLP connections")
    parser.add_argument("--worker-processes", type=int, default=2,
                        help="sodium-monitor worker --concurrency")
    parser.add_argument("--rate", type=float, default=100.0, help="phase 2 results/s")
    parser.add_argument("--rate-seconds", type=float, default=60.0, help="phase 2 duration")
    parser.add_argument("--per-patient", type=int, default=10, help="results per patient")
    parser.add_argument("--fast-fraction", type=float, default=0.1,
                        help="share of patients corrected too fast")
    parser.add_argument("--memory-run", action="store_true",
                        help="drive --memory-messages results and sample worker RSS instead "
                             "of phases 1 and 2")
    parser.add_argument("--memory-messages", type=int, default=100_000)
    parser.add_argument("--sample-every", type=float, default=None,
                        help="RSS/CPU sampling period, s (default 2, memory run 5)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="afterwards, cProfile the worker task in-process on N rows")
    parser.add_argument("--pg-rows", type=int, default=100_000)
    parser.add_argument("--redis-trips", type=int, default=20_000)
    parser.add_argument("--timeout", type=float, default=1800, help="per phase, s")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default=DATABASE_URL,
                        help="the bench database (name must contain 'bench'; its schema is "
                             "dropped and recreated)")
    parser.add_argument("--redis-url", default=BROKER_URL,
                        help="the broker: a Redis db number other than 0 (it is flushed)")
    parser.add_argument("--mllp-port", type=int, default=0,
                        help="the listener's port on 127.0.0.1 (default: a free port); no API "
                             "process is started")
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench" / "pipeline")
    parser.add_argument("--json", type=Path, help="also write the JSON summary here")
    args = parser.parse_args()
    target = Target(args.database_url, args.redis_url, args.mllp_port)
    args.workdir.mkdir(parents=True, exist_ok=True)
    every = args.sample_every or (5.0 if args.memory_run else 2.0)
    result: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg_at_start": loadavg(),
        "argv": sys.argv[1:], "nproc": os.cpu_count(),
        "database": make_url(target.database_url).render_as_string(),
        "broker": target.broker_url,
    }
    began = time.monotonic()
    with running_stack(args.workdir, target, args.worker_processes) as stack:
        log(f"stack up: mllp on {HOST}:{stack.port}, worker pid "
            f"{stack.processes['worker'].pid}")
        warm_up(stack, args.connections)
        samples: list[dict[str, Any]] = []
        child_pids: set[int] = set()
        if args.memory_run:
            feed = make_feed("M", args.memory_messages, args.per_patient, args.connections,
                             args.seed, args.fast_fraction)
            out, sampler = with_sampling(stack, every, lambda s: run_phase(
                "memory run", stack, feed, args.connections, None, 0.2, args.timeout, s))
            result["memory_run"] = out
            samples, child_pids = sampler.samples, sampler.child_pids
        else:
            feed = make_feed("T", args.messages, args.per_patient, args.connections,
                             args.seed, args.fast_fraction)
            out, sampler = with_sampling(stack, every, lambda s: run_phase(
                "phase 1", stack, feed, args.connections, None, 0.1, args.timeout, s))
            result["phase1_throughput"] = out
            samples += sampler.samples
            child_pids |= sampler.child_pids
            feed2 = make_feed("R", round(args.rate * args.rate_seconds), args.per_patient,
                              args.connections, args.seed + 1, args.fast_fraction)
            out, sampler = with_sampling(stack, every, lambda s: run_phase(
                "phase 2", stack, feed2, args.connections, args.rate, 0.05, args.timeout, s))
            result["phase2_fixed_rate"] = out
            samples += sampler.samples
            child_pids |= sampler.child_pids
        result["worker_memory"] = memory_summary(samples, child_pids)
        (args.workdir / "memory-samples.json").write_text(json.dumps(samples, indent=1))
        log("limits: PostgreSQL INSERT, PostgreSQL commit, Redis round trips")
        result["limits"] = {
            "postgres_insert": pg_insert_limit(target.pg_bench, args.pg_rows, 1000),
            "postgres_commit": pg_commit_limit(target.pg_bench, 2000),
            "redis_round_trip": redis_limit(target.broker_url, args.redis_trips),
        }
        if args.profile:
            log(f"profile: {args.profile} rows through the worker task in-process")
            result["profile"] = profile_worker(stack, args.profile, args.workdir)
    result["elapsed_s"] = round(time.monotonic() - began, 1)
    text = json.dumps(result, indent=2)
    print(text)
    print()
    print(markdown(result))
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
