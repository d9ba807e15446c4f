"""Rejects on PostgreSQL: a bad result inside an accepted message, `rejects list`, and
`rejects retry` of a payload that is still unusable or does not exist."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.runtime import Runtime
from monitor.runtime.drain import run_inbox
from monitor.services.intake.hl7 import receive_hl7
from monitor.storage.tables import InboxItem, RejectRow, Result
from tests.hl7_builders import ts
from tests.integration.stack import CLI, ack_code

START = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)


def mixed_message(patient: str, control_id: str) -> str:
    t = ts(START)
    return "\r".join([
        f"MSH|^~\\&|LIS|CITYGEN|SODMON|CITYGEN|{t}||ORU^R01^ORU_R01|{control_id}|P|2.5.1",
        f"PID|1||{patient}^^^CITYGEN^MR||DOE^ALEX||19560412|F",
        "PV1|1|I|MED4^0412^01^CITYGEN",
        "ORC|RE|ORDX-1|X-1||CM",
        f"OBR|1|ORDX-1|X-1|80048^Basic metabolic panel^C4|||{t}|||||||||||||||{t}|||F",
        f"OBX|1|NM|2951-2^Sodium^LN||125|mmol/L|136-145||||F|||{t}",
        f"OBX|2|NM|2823-3^Potassium^LN||3.9|mmol/L|3.5-5.1||||F|||{t}",
        "ORC|RE|ORDX-2|X-2||CM",
        f"OBR|2|ORDX-2|X-2|80048^Basic metabolic panel^C4|||{t}|||||||||||||||{t}|||F",
        f"OBX|1|NM|2951-2^Sodium^LN||288|mg/dL|||||F|||{t}",
    ])


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SODIUM_")}
    env.update(SODIUM_DATABASE_URL=url, SODIUM_BROKER_URL="")
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, env=env)


def rejects(engine: Engine) -> list[RejectRow]:
    with Session(engine) as s:
        rows = list(s.scalars(select(RejectRow).order_by(RejectRow.id)))
        s.expunge_all()
        return rows


def test_one_bad_result_is_rejected_the_message_accepted(
        rt: Runtime, pg_engine: Engine, pg_migrated: str) -> None:
    reply = receive_hl7(rt.uow(), mixed_message("REJ001", "CTRL-MIX-1"), "hl7:LIS",
                        rt.pipeline, datetime.now(UTC))
    assert ack_code(reply.ack) == ("AA", "CTRL-MIX-1")
    assert "mg/dL" in reply.ack  # the warning names what was refused
    assert reply.inbox_id is not None
    assert run_inbox(rt, reply.inbox_id) == "processed"

    rows = rejects(pg_engine)
    assert len(rows) == 1
    assert rows[0].inbox_id == reply.inbox_id
    assert "mg/dL" in rows[0].reason
    with Session(pg_engine) as s:
        analytes = sorted(s.scalars(select(Result.analyte)))
    assert analytes == ["potassium", "sodium"]  # the good ones are stored

    listed = cli(pg_migrated, "rejects", "list")
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.split()[0] == str(rows[0].id))
    assert rows[0].reason in line and "hl7:LIS" in line
    as_json = [json.loads(x) for x in cli(pg_migrated, "rejects", "list", "--json")
               .stdout.splitlines()]
    assert [(r["id"], r["inbox_id"], r["reason"]) for r in as_json] == [
        (rows[0].id, reply.inbox_id, rows[0].reason)]


def test_retrying_an_unchanged_rejected_csv_row_rejects_it_again(
        pg_engine: Engine, pg_migrated: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("patient_id,collected_at,sodium\n"
                   f"REJ002,{START.isoformat()},not-a-number\n")
    imported = cli(pg_migrated, "import", str(bad))
    assert imported.returncode == 0, imported.stderr
    first = rejects(pg_engine)
    assert len(first) == 1
    original = first[0]

    retried = cli(pg_migrated, "rejects", "retry", str(original.id))
    after = rejects(pg_engine)
    again = [r for r in after if r.id != original.id]
    assert retried.returncode == 1, retried.stdout + retried.stderr
    assert "rejected-again" in retried.stdout
    assert len(again) == 1 and again[0].reason  # the reason is recorded again
    assert "not-a-number" in again[0].payload
    by_id: dict[int, Any] = {r.id: r for r in after}
    assert by_id[original.id].retried_at is not None
    with Session(pg_engine) as s:
        assert list(s.scalars(select(Result))) == []
        # no inbox row with nothing usable in it was created by the retry
        assert len(list(s.scalars(select(InboxItem)))) == 1


def test_retrying_an_unknown_reject_fails(pg_engine: Engine, pg_migrated: str) -> None:
    run = cli(pg_migrated, "rejects", "retry", "987654")
    assert run.returncode != 0
    assert "987654" in run.stderr
