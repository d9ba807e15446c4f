"""Every table of the service; importing this module registers them all on Base.metadata."""

from monitor.storage.tables.access import (
    ApiToken,
    AuditEntry,
    Delivery,
    EhrClient,
    EhrTokenUse,
    LoginThrottle,
    NotificationChannel,
    OnCallShift,
    Role,
    SmartLaunch,
    User,
    WardMembership,
    WebSession,
)
from monitor.storage.tables.alerts import Alert, AlertEvent, AlertEvidence, Notice
from monitor.storage.tables.clinical import EpisodeMark, FhirPatientLink, Patient, RiskFactor, Ward
from monitor.storage.tables.counters import ServiceCounter
from monitor.storage.tables.feeds import (
    Feed,
    Heartbeat,
    InboxItem,
    InboxPatient,
    RejectRow,
    UnmappedCodeCount,
)
from monitor.storage.tables.results import Result
from monitor.storage.tables.treatment import MedicationRecord, SymptomMark, WeightEntry

__all__ = [
    "Alert",
    "AlertEvent",
    "AlertEvidence",
    "ApiToken",
    "AuditEntry",
    "Delivery",
    "EhrClient",
    "EhrTokenUse",
    "EpisodeMark",
    "Feed",
    "FhirPatientLink",
    "Heartbeat",
    "InboxItem",
    "InboxPatient",
    "LoginThrottle",
    "MedicationRecord",
    "Notice",
    "NotificationChannel",
    "OnCallShift",
    "Patient",
    "RejectRow",
    "Result",
    "RiskFactor",
    "Role",
    "ServiceCounter",
    "SmartLaunch",
    "SymptomMark",
    "UnmappedCodeCount",
    "User",
    "Ward",
    "WardMembership",
    "WebSession",
    "WeightEntry",
]
