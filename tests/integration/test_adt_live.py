"""ADT in the live path on PostgreSQL: admission, transfer, discharge, diagnoses that
raise the risk tier, and merges that join two identifiers' results and alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.runtime import Runtime
from monitor.runtime.drain import run_inbox
from monitor.services.intake.hl7 import receive_hl7
from monitor.storage.tables import Alert, AlertEvidence, Patient, Result, Ward
from tests.hl7_builders import oru, ts
from tests.integration.helpers import alerts

START = (datetime.now(UTC) - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)


def adt(event: str, patient: str, control: str, *, ward: str = "", bed: str = "01",
        segments: tuple[str, ...] = ()) -> str:
    structure = "ADT_A39" if event == "A40" else "ADT_A01"
    lines = [f"MSH|^~\\&|ADT|CITYGEN|SODMON|CITYGEN|{ts(START)}||ADT^{event}^{structure}|"
             f"{control}|P|2.5.1",
             f"EVN|{event}|{ts(START)}",
             f"PID|1||{patient}^^^CITYGEN^MR||DOE^ALEX||19560412|F"]
    if ward:
        lines.append(f"PV1|1|I|{ward}^0412^{bed}^CITYGEN")
    return "\r".join([*lines, *segments])


def deliver(rt: Runtime, message: str) -> None:
    reply = receive_hl7(rt.uow(), message, "hl7:ADT", rt.pipeline, datetime.now(UTC))
    assert reply.code == "AA", reply.ack
    assert reply.inbox_id is not None
    assert run_inbox(rt, reply.inbox_id) == "processed"


def patient(engine: Engine, identifier: str) -> Patient:
    with Session(engine) as s:
        found = s.scalar(select(Patient).where(Patient.identifier == identifier))
        assert found is not None, identifier
        s.expunge(found)
        return found


def ward_code(engine: Engine, ward_id: int | None) -> str | None:
    with Session(engine) as s:
        return None if ward_id is None else s.get_one(Ward, ward_id).code


def test_admit_transfer_discharge(rt: Runtime, pg_engine: Engine) -> None:
    deliver(rt, adt("A01", "ADT001", "C1", ward="ICU2", bed="07"))
    admitted = patient(pg_engine, "ADT001")
    assert ward_code(pg_engine, admitted.ward_id) == "ICU2"
    assert admitted.bed == "07" and admitted.discharged_at is None

    deliver(rt, adt("A02", "ADT001", "C2", ward="MED5", bed="03"))
    moved = patient(pg_engine, "ADT001")
    assert ward_code(pg_engine, moved.ward_id) == "MED5"
    assert moved.bed == "03" and moved.discharged_at is None
    with Session(pg_engine) as s:
        assert set(s.scalars(select(Ward.code))) == {"ICU2", "MED5"}

    deliver(rt, adt("A03", "ADT001", "C3", ward="MED5"))
    assert patient(pg_engine, "ADT001").discharged_at is not None


def test_alcohol_diagnosis_lowers_the_24h_limit_to_six(rt: Runtime, pg_engine: Engine) -> None:
    deliver(rt, adt("A08", "ADT002", "D1", ward="MED4",
                    segments=("DG1|1||F10.20^Alcohol dependence^I10C|||W",)))
    deliver(rt, oru("ADT002", "ADT002-1", START, 120))
    deliver(rt, oru("ADT002", "ADT002-2", START + timedelta(hours=20), 127))
    c24 = [a for a in alerts(pg_engine) if a["rule"] == "OVERCORRECTION_24H"]
    assert len(c24) == 1, c24
    alert = c24[0]
    assert (alert["patient_id"], alert["state"]) == ("ADT002", "active")
    assert alert["risk_tier"] == "high"
    assert alert["limit_mmol_l"] == 6
    assert alert["rise_mmol_l"] == 7
    assert "alcohol-use-disorder" in alert["risk_factors"]


def test_the_same_rise_without_the_diagnosis_raises_nothing(rt: Runtime,
                                                            pg_engine: Engine) -> None:
    deliver(rt, adt("A08", "ADT003", "E1", ward="MED4"))
    deliver(rt, oru("ADT003", "ADT003-1", START, 120))
    deliver(rt, oru("ADT003", "ADT003-2", START + timedelta(hours=20), 127))
    assert [a for a in alerts(pg_engine) if a["rule"] == "OVERCORRECTION_24H"] == []


def test_merge_moves_results_and_alerts_and_reevaluates(rt: Runtime,
                                                        pg_engine: Engine) -> None:
    # Old record: a low value, then a rise on it alone (alert on the old identifier).
    deliver(rt, oru("OLD001", "M-1", START, 120))
    deliver(rt, oru("OLD001", "M-2", START + timedelta(hours=10), 129))
    # Survivor: only a later value, 10 above the old record's first one within 24 h.
    deliver(rt, oru("NEW001", "M-3", START + timedelta(hours=22), 130))
    before = {(a["patient_id"], a["rule"]) for a in alerts(pg_engine)
              if a["rule"] == "OVERCORRECTION_24H"}
    assert before == {("OLD001", "OVERCORRECTION_24H")}

    deliver(rt, adt("A40", "NEW001", "F1", segments=("MRG|OLD001^^^CITYGEN^MR",)))
    old, survivor = patient(pg_engine, "OLD001"), patient(pg_engine, "NEW001")
    assert old.merged_into_id == survivor.id
    with Session(pg_engine) as s:
        owners = set(s.scalars(select(Result.patient_id)))
        alert_owners = set(s.scalars(select(Alert.patient_id)))
        evidence = [set(s.scalars(select(AlertEvidence.result_key).where(
            AlertEvidence.alert_id == a.id))) for a in s.scalars(select(Alert).where(
            Alert.rule == "OVERCORRECTION_24H", Alert.state == "active"))]
    assert owners == {survivor.id}
    assert alert_owners == {survivor.id}
    # One active 24 h alert on the survivor, now backed by the survivor's own result too,
    # which only counts against the old identifier's 120.
    assert len(evidence) == 1
    assert any(key.endswith("M-3") or "M-3|" in key for key in evidence[0]), evidence


def test_merge_raises_an_alert_only_the_joined_series_shows(rt: Runtime,
                                                            pg_engine: Engine) -> None:
    deliver(rt, oru("OLD002", "N-1", START, 120))
    deliver(rt, oru("NEW002", "N-2", START + timedelta(hours=20), 129))
    assert [a for a in alerts(pg_engine) if a["rule"] == "OVERCORRECTION_24H"] == []

    deliver(rt, adt("A40", "NEW002", "G1", segments=("MRG|OLD002^^^CITYGEN^MR",)))
    c24 = [a for a in alerts(pg_engine) if a["rule"] == "OVERCORRECTION_24H"]
    assert [(a["patient_id"], a["state"], a["rise_mmol_l"]) for a in c24] == [
        ("NEW002", "active", 9)]
    with Session(pg_engine) as s:
        assert set(s.scalars(select(Result.patient_id))) == {patient(pg_engine,
                                                                     "NEW002").id}
