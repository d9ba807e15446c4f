"""Reads of the result time series (versions are written by the patient aggregate,
repos/ledgers.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.engine.model import Analyte, Measurement, Method
from monitor.storage.repos.ledgers import measurement_key
from monitor.storage.tables import Result


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
