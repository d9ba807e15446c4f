"""The demo hospital: two wards, their nurses, a physician on call, an admin. Idempotent:
running the demo again reuses them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from monitor.services.operations import admin
from monitor.storage.tables import OnCallShift, User, Ward
from monitor.storage.uow import UnitOfWork

LOGINS = [  # username, role, wards, password (demo only: printed on start)
    ("nurse.kim", "nurse", ["MED4"], "demo-nurse"),
    ("nurse.ola", "nurse", ["ICU1"], "demo-nurse"),
    ("dr.ali", "physician", ["MED4", "ICU1"], "demo-doctor"),
    ("admin", "admin", [], "demo-admin"),
]


def seed(uow: UnitOfWork, now: datetime) -> list[tuple[str, str, str]]:
    """Create what is missing; returns (username, role, password) to print."""
    for code, name in (("MED4", "Medicine 4"), ("ICU1", "Intensive care 1")):
        with uow:
            admin.upsert_ward(uow, code, now, name=name, fallback="admin")
    for username, role, wards, password in LOGINS:
        with uow:
            if uow.session.scalar(select(User).where(User.username == username)) is None:
                admin.create_user(uow, username, role, now, wards=wards, password=password)
    for code in ("MED4", "ICU1"):
        with uow:
            on_call = uow.session.scalar(
                select(OnCallShift.id).join(User, User.id == OnCallShift.user_id)
                .join(Ward, Ward.id == OnCallShift.ward_id)
                .where(User.username == "dr.ali", Ward.code == code,
                       OnCallShift.starts_at <= now,
                       OnCallShift.ends_at > now + timedelta(hours=1)))
            if on_call is None:
                admin.add_shift(uow, code, "dr.ali", now - timedelta(minutes=5),
                                now + timedelta(hours=24), now)
    return [(u, r, p) for u, r, _, p in LOGINS]
