"""An alert open over a long stay: its evidence is rows with a summary on the alert, and a
new result loads only the evidence within the look-back (the rest is summarised), so the
cost of a result does not grow with the stay. On real PostgreSQL; nothing is timed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from monitor.runtime import Runtime
from monitor.runtime.drain import drain_inbox
from monitor.storage.repos.ledgers import Scope, load
from monitor.storage.tables import Alert, AlertEvidence, Patient
from tests.hl7_builders import oru
from tests.integration.helpers import inbox_states, store_hl7

RESULTS = 300
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
START = NOW - timedelta(hours=RESULTS)
PATIENT = "LONG01"


def sodium(n: int) -> float:
    """Rising slowly from 110 mmol/L (0.05 mmol/L per hour, far below any rise limit),
    then a plateau at 118: below 120 throughout, so SEVERE_HYPONATREMIA holds."""
    return round(min(110 + 0.05 * n, 118.0), 2)


def message(n: int) -> str:
    return oru(PATIENT, f"LS-{n:03d}", START + timedelta(hours=n), sodium(n),
               control_id=f"LS-{n:03d}")


def test_an_alert_open_over_300_results_keeps_bounded_evidence(rt: Runtime,
                                                               pg_engine: Engine) -> None:
    for n in range(RESULTS - 1):
        store_hl7(rt, message(n), NOW)
    drain_inbox(rt, now=NOW)
    store_hl7(rt, message(RESULTS - 1), NOW)  # result #300, processed on its own
    assert drain_inbox(rt, now=NOW).batches == 1
    assert inbox_states(pg_engine) == {"done": RESULTS}

    with Session(pg_engine) as s:
        [alert] = s.scalars(select(Alert))
        assert (alert.rule, alert.state) == ("SEVERE_HYPONATREMIA", "active")
        keys = set(s.scalars(select(AlertEvidence.result_key)
                             .where(AlertEvidence.alert_id == alert.id)))
        rows = s.scalar(select(func.count()).select_from(AlertEvidence)
                        .where(AlertEvidence.alert_id == alert.id))
        assert alert.evidence_count == rows == len(keys) == RESULTS
        assert {alert.first_key, alert.worst_key, alert.latest_key} <= keys
        assert alert.first_key == "hl7:LIS|LS-000|2951-2|"
        assert alert.worst_key == alert.first_key  # 110 mmol/L, the lowest
        assert alert.latest_key == f"hl7:LIS|LS-{RESULTS - 1:03d}|2951-2|"

        # What processing result #300 loads: the evidence from its collection time on
        # everything before is summarised, counted but not read.
        pid = s.scalar(select(Patient.id).where(Patient.identifier == PATIENT))
        assert pid is not None
        since = START + timedelta(hours=RESULTS - 1)
        scope = Scope(since, frozenset({("hl7:LIS", f"LS-{RESULTS - 1:03d}|2951-2|")}))
        agg = load(s, {pid: scope}, {pid: rt.pipeline.policy})[pid]
    [record] = agg.ledger.alerts
    assert record.alert_id == str(alert.id)
    # ... from a few hours before it: a new sample can change how the ones just before it
    # count (a spike it reverses, a sodium its glucose corrects).
    reach = timedelta(hours=rt.pipeline.policy.artefacts.confirm_hours)
    assert record.evidence and all(f.collected_at >= since - reach
                                   for f in record.evidence.values())
    assert len(record.evidence) < RESULTS
    assert record.settled is not None
    assert record.settled.count + len(record.evidence) == alert.evidence_count
    assert record.count == alert.evidence_count
    assert record.settled.first.result_key == alert.first_key
    assert record.settled.worst.result_key == alert.worst_key
