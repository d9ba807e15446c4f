"""The result time series: versions stored as received, the current one marked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.engine.model import Analyte, Measurement, Method, ResultStatus
from monitor.engine.versions import Effective, Version, resolve
from monitor.ingest.events import ResultEvent
from monitor.storage.repos.common import insert_ignore
from monitor.storage.tables import Result


def measurement_key(feed: str, result_key: str) -> str:
    """Result identity is unique per feed."""
    return f"{feed}|{result_key}"


def add_version(session: Session, pid: int, ev: ResultEvent, feed: str, inbox_id: int | None,
                arrival_seq: int, received_at: datetime) -> bool:
    """Store one version; the same version delivered again inserts nothing (a redelivered
    task by the unique arrival sequence, a resent message by equality with a neighbour)."""
    # Two identical versions next to each other in arrival order act as one, so either may
    # be dropped: whichever of a resent pair is processed second inserts nothing.
    same = (Result.source_feed == feed, Result.result_key == ev.result_key,
            Result.patient_id == pid)
    earlier = session.scalars(select(Result).where(*same, Result.arrival_seq < arrival_seq)
                              .order_by(Result.arrival_seq.desc()).limit(1)).first()
    later = session.scalars(select(Result).where(*same, Result.arrival_seq > arrival_seq)
                            .order_by(Result.arrival_seq).limit(1)).first()
    content = (ev.status.value, ev.value_mmol_l, ev.collected_at, ev.value_raw[:100],
               ev.unit_raw[:50])
    for neighbour in (earlier, later):
        if neighbour is not None and content == (
                neighbour.status, neighbour.value_mmol_l, neighbour.collected_at,
                neighbour.value_raw, neighbour.unit_raw):
            return False
    return insert_ignore(session, Result.__table__, {  # type: ignore[arg-type]
        "patient_id": pid, "source_feed": feed, "result_key": ev.result_key,
        "arrival_seq": arrival_seq, "inbox_id": inbox_id, "analyte": ev.analyte.value,
        "loinc_code": ev.code, "specimen": ev.specimen, "method": ev.method.value,
        "value_raw": ev.value_raw[:100], "unit_raw": ev.unit_raw[:50],
        "value_mmol_l": ev.value_mmol_l, "collected_at": ev.collected_at,
        "received_at": received_at, "status": ev.status.value, "test": ev.test,
        "is_current": False, "removed": False,
    }, ["source_feed", "result_key", "arrival_seq"])


@dataclass(frozen=True, slots=True)
class Refreshed:
    before: Effective | None
    after: Effective | None
    # The state as of the version just stored, ignoring versions that arrived after it but
    # were processed before it: what in-order processing would have seen at this point.
    as_of: Effective | None


def refresh_current(session: Session, pid: int, feed: str, key: str,
                    arrival_seq: int) -> Refreshed:
    """Re-resolve which version of a result counts (arrival order), and mark it."""
    rows = session.scalars(select(Result).where(
        Result.source_feed == feed, Result.result_key == key, Result.patient_id == pid,
    ).order_by(Result.arrival_seq)).all()
    current = [r for r in rows if r.is_current]
    before = None
    if current:
        c = current[0]
        status = ResultStatus.REMOVED if c.removed else ResultStatus(c.status)
        value = None if c.removed else c.value_mmol_l
        before = Effective(status, value, c.collected_at, c.arrival_seq)
    versions = [Version(r.arrival_seq, ResultStatus(r.status), r.value_mmol_l, r.collected_at)
                for r in rows]
    after = resolve(versions)
    as_of = resolve(v for v in versions if v.arrival_seq <= arrival_seq)
    for r in rows:
        r.is_current = after is not None and r.arrival_seq == after.arrival_seq
        r.removed = r.is_current and after is not None and not after.counted
    later = {r.arrival_seq: r.id for r in rows}
    for r in rows:
        newer = [seq for seq in later if seq > r.arrival_seq]
        r.superseded_by_id = later[min(newer)] if newer and not r.is_current else None
    return Refreshed(before, after, as_of)


def move_results(session: Session, old_pid: int, new_pid: int) -> None:
    session.execute(update(Result).where(Result.patient_id == old_pid)
                    .values(patient_id=new_pid))


@dataclass(slots=True)
class Series:
    sodium: list[Measurement]
    potassium: list[Measurement]
    test_keys: set[str]


def load_series(session: Session, pid: int, since: datetime | None,
                override: dict[str, Measurement | None] | None = None) -> Series:
    """Counted sodium and potassium of a patient collected at or after `since`;
    `override` replaces the state of some results (keyed by measurement key)."""
    q = select(Result).where(
        Result.patient_id == pid, Result.is_current.is_(True), Result.removed.is_(False),
        Result.analyte.in_([Analyte.SODIUM.value, Analyte.POTASSIUM.value]),
    )
    if since is not None:
        q = q.where(Result.collected_at >= since)
    series = Series([], [], set())
    for r in session.scalars(q.order_by(Result.collected_at, Result.id)):
        if r.value_mmol_l is None:
            continue
        key = measurement_key(r.source_feed, r.result_key)
        m = Measurement(key, Analyte(r.analyte), r.value_mmol_l, r.collected_at,
                        Method(r.method))
        if override and key in override:
            continue
        (series.sodium if m.analyte is Analyte.SODIUM else series.potassium).append(m)
        if r.test:
            series.test_keys.add(key)
    for replaced in (override or {}).values():
        if replaced is not None and (since is None or replaced.collected_at >= since):
            target = series.sodium if replaced.analyte is Analyte.SODIUM else series.potassium
            target.append(replaced)
    if override:
        series.sodium.sort(key=lambda x: (x.collected_at, x.result_key))
        series.potassium.sort(key=lambda x: (x.collected_at, x.result_key))
    return series
