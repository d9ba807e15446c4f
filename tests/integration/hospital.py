"""A small hospital for the dashboard tests: two wards, their people, and patients loaded
through the real receive path (HL7 ORU -> inbox -> processing).

Ward A (MED4): A1 a critical OVERCORRECTION_24H (120 -> 129, with a corrected result and a
point-of-care result), A2 a warning OVERCORRECTION_24H (127 -> 136, the newest alert), A3 a
rise of 7 in 24 h (no rate alert at standard risk). Ward B (SURG2): B1 a critical
OVERCORRECTION_24H. One rejected message (for the retry routes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from monitor.config import Settings
from monitor.runtime import Runtime
from monitor.runtime.drain import drain_inbox, run_delivery, run_inbox
from monitor.services.access.tokens import create_token
from monitor.services.intake.hl7 import receive_hl7
from monitor.services.operations import admin
from monitor.storage.tables import (
    Alert,
    ApiToken,
    AuditEntry,
    OnCallShift,
    Patient,
    RejectRow,
    User,
)
from monitor.web.app import create_app
from tests.hl7_builders import oru

WARD_A, WARD_B = "MED4", "SURG2"
PASSWORD = "correct horse battery staple"
C24 = "OVERCORRECTION_24H"
POC_SODIUM = "2947-0"  # sodium in blood: point-of-care / blood gas
PEOPLE = {  # username: (role, ward memberships)
    "nurse.a": ("nurse", [WARD_A]),
    "nurse.b": ("nurse", [WARD_B]),
    "dr.a": ("physician", [WARD_A]),
    "dr.roster.a": ("physician", []),  # on call for ward A now
    "dr.oncall.b": ("physician", []),  # on call for ward B now
    "dr.later.b": ("physician", []),  # on call for ward B from in 2 h
    "root": ("admin", []),
}


@cache
def _password_hash() -> str:
    """One argon2 hash for everyone, with cheap parameters: verifying reads them from the
    hash, so each login costs milliseconds instead of half a second."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


class Inline:
    """The in-process dispatcher's work done at once in the caller's thread, so no thread
    outlives a test."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def process(self, inbox_id: int | None = None) -> None:
        # A wake-up after a commit names no row: drain what is claimable.
        if inbox_id is None:
            drain_inbox(self.rt)
        else:
            run_inbox(self.rt, inbox_id)

    def deliver(self, delivery_id: int) -> None:
        run_delivery(self.rt, delivery_id)


@dataclass
class Hospital:
    rt: Runtime
    now: datetime
    patients: dict[str, int] = field(default_factory=dict)  # identifier -> id
    tokens: dict[str, str] = field(default_factory=dict)  # username or "feed" -> bearer

    def close(self) -> None:
        self.rt.engine.dispose()

    def client(self, address: str = "testclient") -> TestClient:
        """A fresh browser at `address`: its own cookie jar, redirects not followed."""
        return TestClient(create_app(self.rt), follow_redirects=False, client=(address, 50000))

    def bearer(self, who: str) -> TestClient:
        c = self.client()
        c.headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return c

    def signed_in(self, username: str) -> TestClient:
        c = self.client()
        reply = c.post("/login", data={"username": username, "password": PASSWORD})
        assert reply.status_code == 303, reply.text
        return c

    def receive(self, text: str, feed: str = "hl7:lis", now: datetime | None = None
                ) -> int | None:
        """One HL7 message through the real receive path, processed at once; its inbox id
        (None: refused, with a reject row)."""
        reply = receive_hl7(self.rt.uow(), text, feed, self.rt.pipeline,
                            now or datetime.now(UTC))
        if reply.inbox_id is not None:
            run_inbox(self.rt, reply.inbox_id)
        return reply.inbox_id

    def alert(self, patient: str, rule: str = C24) -> int:
        with self.rt.uow() as uow:
            found = uow.session.scalar(select(Alert.id).where(
                Alert.patient_id == self.patients[patient], Alert.rule == rule,
                Alert.state == "active"))
        assert found is not None, f"no active {rule} for {patient}"
        return found

    def reject_id(self) -> int:
        with self.rt.uow() as uow:
            found = uow.session.scalar(select(RejectRow.id).order_by(RejectRow.id))
        assert found is not None
        return found

    def audit_rows(self, actor: str) -> set[tuple[str, str | None, str | None]]:
        with self.rt.uow() as uow:
            return {(e.action, e.target_type, e.target_id) for e in uow.session.scalars(
                select(AuditEntry).where(AuditEntry.actor == actor))}

    def end_shift(self, username: str) -> None:
        with self.rt.uow() as uow:
            user_id = select(User.id).where(User.username == username).scalar_subquery()
            uow.session.execute(update(OnCallShift).where(OnCallShift.user_id == user_id)
                                .values(ends_at=datetime.now(UTC) - timedelta(minutes=1)))
            uow.commit()


def build(database_url: str, **settings: Any) -> Hospital:
    """The hospital on `database_url`; `settings`: further Settings fields."""
    rt = Runtime(Settings(database_url=database_url, broker_url="", **settings))
    rt._dispatcher = Inline(rt)
    h = Hospital(rt, datetime.now(UTC))
    _people(h)
    _results(h)
    return h


def _people(h: Hospital) -> None:
    now = h.now
    with h.rt.uow() as uow:
        admin.upsert_ward(uow, WARD_A, now, name="Medicine 4")
    with h.rt.uow() as uow:
        admin.upsert_ward(uow, WARD_B, now, name="Surgery 2")
    for username, (role, wards) in PEOPLE.items():
        with h.rt.uow() as uow:
            admin.create_user(uow, username, role, now, wards=wards)
        with h.rt.uow() as uow:
            h.tokens[username] = create_token(uow, f"{username}-api", role, now)
        with h.rt.uow() as uow:
            user = uow.session.scalar(select(User).where(User.username == username))
            assert user is not None
            user.password_hash = _password_hash()
            # The token acts as its user: role and wards come from the user.
            uow.session.execute(update(ApiToken).where(ApiToken.name == f"{username}-api")
                                .values(user_id=user.id))
            uow.commit()
    with h.rt.uow() as uow:
        h.tokens["feed"] = create_token(uow, "lis", "feed", now)
    shifts = [(WARD_A, "dr.roster.a", -1, 8), (WARD_B, "dr.oncall.b", -1, 8),
              (WARD_B, "dr.later.b", 2, 10)]
    for ward, username, start, end in shifts:
        with h.rt.uow() as uow:
            admin.add_shift(uow, ward, username, now + timedelta(hours=start),
                            now + timedelta(hours=end), now)


# Who A1 is (PID-5/7/8, PV1-3.2/3.3); the others are all "DOE, ALEX" in room 0412, bed 01.
A1 = {"ward": WARD_A, "name": "HARTMANN^Erika", "born": "19520314", "sex": "F",
      "location": "401^B"}


def _results(h: Hospital) -> None:
    def at(hours: float) -> datetime:
        return h.now - timedelta(hours=hours)

    messages = [
        oru("A1", "A1-0", at(20), 120, **A1),
        oru("A1", "A1-1", at(10), 124, **A1),
        oru("A1", "A1-1", at(10), 123, status="C", **A1),  # supersedes 124
        oru("A1", "A1-p", at(5), 126, loinc=POC_SODIUM, **A1),
        oru("A1", "A1-2", at(1), 129, **A1),  # rise 9 from 120: critical
        oru("A3", "A3-0", at(20), 120, ward=WARD_A),
        oru("A3", "A3-1", at(1), 127, ward=WARD_A),  # rise 7: alerts only at high risk
        oru("B1", "B1-0", at(20), 120, ward=WARD_B),
        oru("B1", "B1-1", at(10), 124, ward=WARD_B),
        oru("B1", "B1-2", at(1), 129, ward=WARD_B),
        oru("A2", "A2-0", at(20), 127, ward=WARD_A),
        oru("A2", "A2-1", at(1), 136, ward=WARD_A),  # rise 9 from 127: warning, newest
        oru("A9", "A9-0", at(1), "not-a-number", ward=WARD_A),  # rejected
    ]
    for text in messages:
        h.receive(text)
    with h.rt.uow() as uow:
        h.patients = {p.identifier: p.id for p in uow.session.scalars(select(Patient))}


def hidden_csrf(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no csrf field on the page"
    return found.group(1)


def fill(path: str, h: Hospital, patient: str = "A1", risk: int = 1) -> str:
    """A route template with real ids: {p} patient, {a} its OVERCORRECTION_24H alert,
    {r} a risk factor, {j} the rejected message."""
    alert = h.alert(patient) if "{a}" in path else 0
    reject = h.reject_id() if "{j}" in path else 0
    return path.format(p=h.patients[patient], a=alert, r=risk, j=reject)
