"""Settings: one pydantic-settings class, read from SODIUM_* variables and `.env`.

Nothing connects at import time. A bad value stops start-up with one line that names the
variable (see `describe_error`).
"""

from __future__ import annotations

import socket
from datetime import timedelta
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitor.ingest.flags import DEFAULT_SUSPECT_COMMENTS

ENV_PREFIX = "SODIUM_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///./var/sodium-monitor.db"
    # Empty: tasks run in-process after commit (embedded mode). redis://... : Celery workers.
    broker_url: str = ""
    # Time zone for timestamps that carry no UTC offset.
    timezone: str = "UTC"
    # Where the pages show times; empty: SODIUM_TIMEZONE (a unit may read another zone than
    # the lab's clocks, e.g. UTC lab timestamps, local wards).
    display_timezone: str = ""
    policy: str = "default"
    # json: one structured line per event (production); console: plain text (the demo).
    log_format: str = "json"
    # Alerts from results collected longer ago than this never page anyone (issue 5).
    notify_max_age: timedelta = timedelta(hours=24)
    # Where links in notifications point (the dashboard). Empty: the API's own address,
    # http://SODIUM_API_HOST:SODIUM_API_PORT (the host's name when it listens on all
    # addresses), so that changing the port does not leave links on the old one.
    public_url: str = ""
    # Email notifications: empty host disables the channel.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "sodium-monitor@localhost"
    # One delivery (webhook, SMTP) waits at most this long to connect, and this long for
    # each read or write after: a dead receiver cannot hold a sender longer.
    delivery_connect_timeout: float = 3.0
    delivery_timeout: float = 10.0
    mllp_host: str = "127.0.0.1"
    mllp_port: int = 2575
    # Optional TLS for the MLLP listener (PEM files).
    mllp_tls_cert: str | None = None
    mllp_tls_key: str | None = None
    # Open MLLP connections: in all, and from one peer address; beyond them a new connection
    # is closed at accept. A frame must arrive whole within the timeout (seconds).
    mllp_max_connections: int = 200
    mllp_max_connections_per_peer: int = 20
    mllp_frame_timeout_s: float = 300.0
    # A PEM bundle of the CA that signs feed certificates: set, the listener requires a
    # client certificate and names the feed by its CN or DNS SAN (`feeds add --cert-cn`).
    mllp_tls_client_ca: str | None = None
    # Listen on a non-loopback address without client certificates or allow-listed feeds.
    mllp_insecure: bool = False
    # How long an inbox row may stay pending before the sweeper re-enqueues it.
    inbox_sweep_after: timedelta = timedelta(seconds=30)
    sweep_interval: timedelta = timedelta(seconds=15)
    # How often the scheduler looks for tables whose planner statistics lag their growth
    # (PostgreSQL only; monitor/storage/statistics.py).
    statistics_interval: timedelta = timedelta(seconds=10)
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Comment fragments (HL7 NTE, FHIR Observation.note) by which the lab flags a specimen
    # as unsuitable: such a result is stored and shown, never counted. Comma-separated in
    # the environment; case-insensitive substrings.
    suspect_comments: Annotated[tuple[str, ...], NoDecode] = DEFAULT_SUSPECT_COMMENTS
    # Assigning authorities that name the same patients (HL7 CX.4 namespace, FHIR identifier
    # system): "alias=canonical,..."; patients are keyed by the canonical name.
    patient_authorities: str = ""
    # National ICD-10 code system URIs read as ICD-10 beside WHO's and ICD-10-CM's
    # (http://hl7.org/fhir/sid/icd-10, .../icd-10-cm), e.g. a JP Core ICD-10 system.
    # Comma-separated in the environment.
    icd10_systems: Annotated[tuple[str, ...], NoDecode] = ()
    # The most results one message may carry (HL7 OBX segments, FHIR Bundle entries, rows
    # of a JSON post): more is refused at intake (AE / 422), before it reaches a worker.
    max_results_per_message: int = Field(default=500, ge=1)
    # The hospital's medication codes: a TOML file of `"local code" = "class"` lines
    # (classes: monitor.engine.medication.MedicationClass, e.g. "hypertonic-saline"). They
    # classify orders before RxNorm and the policy's text patterns (docs/clinical-rules.md
    # §2.5). Empty: none.
    medication_map: str = ""

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "not a database URL; expected e.g. sqlite:///./var/sodium-monitor.db "
                "or postgresql+psycopg://user@host/db"
            ) from None
        if url.get_backend_name() not in {"sqlite", "postgresql"}:
            raise ValueError(f"backend {url.get_backend_name()!r} is not supported "
                             "(sqlite or postgresql)")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "amqp://")):
            raise ValueError("expected empty (in-process), redis://host:port/db or amqp://")
        return value

    @field_validator("timezone", "display_timezone")
    @classmethod
    def _timezone(cls, value: str, info: ValidationInfo) -> str:
        if not value and info.field_name == "display_timezone":
            return value  # the same as timezone
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as "
                             "Europe/Berlin)") from None
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value not in ("json", "console"):
            raise ValueError("json or console")
        return value

    @field_validator("suspect_comments", mode="before")
    @classmethod
    def _suspect_comments(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(","))
        if isinstance(value, list | tuple) and not all(str(v).strip() for v in value):
            raise ValueError("comma-separated comment fragments, none of them empty")
        return value

    @field_validator("icd10_systems", mode="before")
    @classmethod
    def _icd10_systems(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, list | tuple) and not all(
                str(v).strip().lower().startswith(("http://", "https://", "urn:"))
                for v in value):
            raise ValueError("comma-separated code system URIs (http://..., urn:oid:...)")
        return value

    @field_validator("medication_map")
    @classmethod
    def _medication_map(cls, value: str) -> str:
        read_medication_map(value)  # ValueError in words
        return value

    @property
    def medication_codes(self) -> dict[str, str]:
        """SODIUM_MEDICATION_MAP read: local code -> medication class."""
        return read_medication_map(self.medication_map)

    @field_validator("patient_authorities")
    @classmethod
    def _patient_authorities(cls, value: str) -> str:
        from monitor.ingest.authorities import parse_aliases

        parse_aliases(value)  # ValueError in words
        return value

    @property
    def authority_aliases(self) -> dict[str, str]:
        from monitor.ingest.authorities import parse_aliases

        return parse_aliases(self.patient_authorities)

    @field_validator("mllp_port", "api_port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 0 <= value <= 65535:
            raise ValueError("a TCP port is 0 to 65535")
        return value

    _public_url_derived: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def _public_url(self) -> Settings:
        if not self.public_url:
            self.public_url = _api_address(self.api_host, self.api_port)
            self._public_url_derived = True
        return self

    def serving_at(self, host: str | None, port: int | None) -> Settings:
        """These settings for an API started with --host/--port: a public URL derived
        from the address follows it."""
        host, port = host or self.api_host, port or self.api_port
        update: dict[str, object] = {"api_host": host, "api_port": port}
        if self._public_url_derived:
            update["public_url"] = _api_address(host, port)
        return self.model_copy(update=update)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def display_zone(self) -> ZoneInfo:
        return ZoneInfo(self.display_timezone or self.timezone)

    @property
    def embedded(self) -> bool:
        return not self.broker_url


def read_medication_map(path: str) -> dict[str, str]:
    """A medication map file (TOML: local code = class); {} for no path."""
    import tomllib

    from monitor.engine.medication import MedicationClass

    if not path.strip():
        return {}
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise ValueError(f"cannot read medication map {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"medication map {path} is not valid TOML: {error}") from None
    classes = {c.value for c in MedicationClass}
    bad = sorted(f"{code} = {name!r}" for code, name in data.items() if name not in classes)
    if bad:
        raise ValueError(f"medication map {path}: not a medication class: {', '.join(bad)} "
                         f"(one of {', '.join(sorted(classes))})")
    return {str(code): str(name) for code, name in data.items()}


def _api_address(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):  # listens on every address: name the machine
        host = socket.gethostname()
    elif ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"http://{host}:{port}"


class SettingsError(Exception):
    """Raised with a one-line message naming the variable at fault."""


def describe_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        name = ENV_PREFIX + "_".join(str(p) for p in item["loc"]).upper()
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{name}: {message}")
    return "invalid setting " + "; ".join(parts)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(describe_error(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
