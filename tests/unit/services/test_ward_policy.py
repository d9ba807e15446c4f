"""A ward's own policy applies to its patients (embedded SQLite)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import Settings
from monitor.engine.policy import PolicyError
from monitor.runtime import Runtime
from monitor.runtime.drain import run_inbox
from monitor.services.alerting.listing import list_alerts
from monitor.services.intake.hl7 import receive_hl7
from monitor.services.operations import admin
from monitor.storage.migrate import upgrade
from tests.hl7_builders import oru

NOW = datetime(2026, 9, 15, 12, tzinfo=UTC)


def runtime(tmp_path: Path) -> Runtime:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    upgrade(url)
    return Runtime(Settings(database_url=url))


def rise_of_nine(rt: Runtime, patient: str, ward: str) -> None:
    for n, (hours, value) in enumerate([(20, 118), (1, 127)]):
        at = NOW - timedelta(hours=hours)
        reply = receive_hl7(rt.uow(), oru(patient, f"{patient}-{n}", at, value, ward=ward),
                            "hl7:LIS", rt.pipeline, NOW)
        assert reply.inbox_id is not None
        run_inbox(rt, reply.inbox_id, NOW)


def test_the_salsa_ward_allows_12_while_the_default_ward_alerts_above_8(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    with rt.uow() as uow:
        admin.upsert_ward(uow, "SALSA", NOW, policy="salsa-2021")
    rise_of_nine(rt, "S1", "SALSA")
    rise_of_nine(rt, "D1", "MED4")
    with rt.uow() as uow:
        fired = {(a["patient_id"], a["policy"]) for a in list_alerts(uow)
                 if a["rule"] == "OVERCORRECTION_24H"}
    assert fired == {("D1", "default")}


def test_a_ward_policy_that_does_not_load_is_refused(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    with rt.uow() as uow, pytest.raises(PolicyError):
        admin.upsert_ward(uow, "X", NOW, policy="no-such-policy")
