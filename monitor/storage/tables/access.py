"""Users, roles, ward membership, the on-call roster, tokens, notification channels,
deliveries (the transactional outbox), the audit log, the sign-in throttle and the EHRs
registered for CDS Hooks and SMART launch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from monitor.storage.base import Base, UTCDateTime


class Role(Base):
    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)  # nurse/physician/admin/feed
    description: Mapped[str] = mapped_column(String(200), default="")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(ForeignKey("roles.name"))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WardMembership(Base):
    __tablename__ = "ward_memberships"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    ward_id: Mapped[int] = mapped_column(ForeignKey("wards.id"), primary_key=True)


class OnCallShift(Base):
    __tablename__ = "on_call_roster"
    __table_args__ = (Index("ix_on_call_roster_ward_period", "ward_id", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ward_id: Mapped[int] = mapped_column(ForeignKey("wards.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """Bearer tokens; only a hash of the token is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(ForeignKey("roles.name"))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationChannel(Base):
    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # in-app / webhook / email
    target: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str | None] = mapped_column(String(200))
    show_mrn: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Delivery(Base):
    """The outbox: written in the same transaction as the alert change it announces."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("notification_channels.id"))
    recipient: Mapped[str] = mapped_column(String(100))
    event: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Append-only record of every look at a patient and every action."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WebSession(Base):
    """A signed-in browser. The cookie holds a random token; only its hash is stored."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A SMART launch from the EHR opens a session for the launch's patient only.
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))


class EhrClient(Base):
    """An EHR registered to call the CDS Hooks services and to launch the chart (SMART).
    `issuer`: the `iss` of the JWTs its CDS client signs; its keys come from `jwks` (a key
    set given as a file) or `jwks_url`. `fhir_server` and `smart_client_id`: the FHIR base
    URL it sends as SMART `iss` and the client id this service has at its authorization
    server; a launch from any other `iss` is refused (never redirect to an unknown server)."""

    __tablename__ = "ehr_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(300), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    jwks: Mapped[str | None] = mapped_column(Text)
    jwks_url: Mapped[str | None] = mapped_column(String(500))
    fhir_server: Mapped[str | None] = mapped_column(String(300), unique=True)
    smart_client_id: Mapped[str | None] = mapped_column(String(200))
    launch_role: Mapped[str] = mapped_column(ForeignKey("roles.name"), default="physician")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EhrTokenUse(Base):
    """A CDS Hooks JWT seen (issuer and jti), kept until it expires: a replayed token is
    refused."""

    __tablename__ = "ehr_token_uses"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)  # sha256(issuer, jti)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class SmartLaunch(Base):
    """A SMART launch between the redirect to the EHR's authorization server and its
    callback: the PKCE verifier stays here, the browser carries only `state`."""

    __tablename__ = "smart_launches"

    state_hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    ehr_client_id: Mapped[int] = mapped_column(ForeignKey("ehr_clients.id"))
    code_verifier: Mapped[str] = mapped_column(String(128))
    token_endpoint: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Sign-in attempts not yet followed by a success, per client address and per username
    (`address:10.1.2.3`, `account:nurse.a`; unknown usernames too, so waits do not tell
    who exists). See monitor/services/access/throttle.py."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    wait_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
