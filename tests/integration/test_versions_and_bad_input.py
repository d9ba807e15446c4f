"""Corrections and cancellations right behind their originals, and hostile input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.storage.tables import RejectRow, Result
from tests.hl7_builders import oru
from tests.integration.helpers import alerts, all_processed
from tests.integration.stack import MLLP_END, MLLP_START, MllpConnection, ack_code, stack, wait_for

START = datetime(2026, 9, 14, 8, tzinfo=UTC)


def test_versions_take_effect_in_arrival_order_with_two_workers(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path) -> None:
    stream, final = [], {}
    for p in range(30):
        patient, order = f"V{p:03d}", f"V{p:03d}-1"
        base = oru(patient, f"V{p:03d}-0", START, 116)  # the nadir, 8 h earlier
        original = oru(patient, order, START + timedelta(hours=8), 126)  # rise 10: alert
        stream += [base, original]
        if p % 3 == 0:
            stream.append(oru(patient, order, START + timedelta(hours=8), 121, status="C"))
            final[patient] = 121.0
        elif p % 3 == 1:
            stream.append(oru(patient, order, START + timedelta(hours=8), "", status="D"))
            final[patient] = None
        else:
            stream.append(oru(patient, order, START + timedelta(hours=8), 124, status="C"))
            stream.append(oru(patient, order, START + timedelta(hours=8), 127, status="C",
                              control_id=f"{order}C2"))
            final[patient] = 127.0
    with stack(pg_migrated, redis_url, tmp_path) as s:
        port = s.mllp()
        s.worker(concurrency=2)
        s.worker(concurrency=2)
        client = MllpConnection(port)
        for message in stream:
            assert ack_code(client.send(message))[0] == "AA"
        client.close()
        wait_for(lambda: all_processed(pg_engine, len(stream)), 180, "two workers", every=0.5)
    with Session(pg_engine) as db:
        current = {r.result_key.split("|")[0]: (None if r.removed else r.value_mmol_l)
                   for r in db.scalars(select(Result).where(Result.is_current.is_(True)))}
    assert {f"V{p:03d}": current[f"V{p:03d}-1"] for p in range(30)} == final
    active = {a["patient_id"] for a in alerts(pg_engine)
              if a["rule"] == "OVERCORRECTION_24H" and a["state"] == "active"}
    assert active == {p for p, v in final.items() if v is not None and v - 116 > 8}
    withdrawn = {a["patient_id"] for a in alerts(pg_engine)
                 if a["rule"] == "OVERCORRECTION_24H" and a["state"] == "withdrawn"}
    # The history follows arrival order too: every original raised an alert, and every
    # correction or cancellation below the limit withdrew it (124 did, before 127 re-raised).
    assert withdrawn == set(final)


def test_bad_input_gets_the_right_ack_and_a_reject_row_and_the_listener_stays_up(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with stack(pg_migrated, redis_url, tmp_path) as s:
        port = s.mllp()
        s.worker(concurrency=1)
        c = MllpConnection(port)
        assert ack_code(c.send("this is not HL7 at all"))[0] == "AE"
        c.send_raw(b"\x00\xffgarbage bytes outside a frame\r\n")
        assert ack_code(c.send(oru("B1", "B1-1", START, 7.1, unit="mg/dL")))[0] == "AE"
        future = now + timedelta(hours=3)
        assert ack_code(c.send(oru("B1", "B1-2", future, 130, received=now)))[0] == "AE"
        assert ack_code(c.send(oru("B1", "B1-3", START, 130, message_type="ORM^O01")))[0] == "AR"
        big = oru("B1", "B1-4", START, 130) + "\rNTE|1||" + "x" * (2 << 20)
        code, control_id = ack_code(c.send(big))
        assert (code, control_id) == ("AR", "B1-4F")
        c.send_raw(MLLP_START + b"MSH|^~\\&|split")  # a frame split across reads
        c.send_raw(b"|X||||20260914080000||ORU^R01|S1|P|2.5.1\rPID|1||S1^^^A^MR" + MLLP_END)
        assert ack_code(c.reply())[0] == "AE"  # no result in it
        assert ack_code(c.send(oru("B2", "B2-1", START, 131)))[0] == "AA"  # still up
        c.close()
        wait_for(lambda: all_processed(pg_engine, 1), 60, "the good message")
    with Session(pg_engine) as db:
        reasons = list(db.scalars(select(RejectRow.reason).order_by(RejectRow.id)))
    text = " | ".join(reasons)
    for expected in ("not an HL7 message", "MLLP frame", "mg/dL", "clock error",
                     "ORM", "1 MiB"):
        assert expected in text, (expected, text)
