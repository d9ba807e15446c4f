"""A medication order or administration, as the engine reads it (issue 16).

Plain data: the adapters (HL7 RDE^O11 / RAS^O17, FHIR MedicationRequest and
MedicationAdministration, CSV rows) fill it in; `monitor.engine.treatment` gives it its class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class MedicationClass(StrEnum):
    """What the rules know of a medication: the classes that move sodium."""

    HYPERTONIC_SALINE = "hypertonic-saline"  # NaCl above 0.9 % (3 %, 5 %, ...)
    ISOTONIC_SALINE = "isotonic-saline"  # NaCl 0.9 %
    HYPOTONIC_FLUID = "hypotonic-fluid"  # D5W, NaCl 0.45 %
    VAPTAN = "vaptan"  # tolvaptan, conivaptan
    DESMOPRESSIN = "desmopressin"
    UREA = "urea"
    SALT_TABLETS = "salt-tablets"
    LOOP_DIURETIC = "loop-diuretic"
    THIAZIDE_DIURETIC = "thiazide-diuretic"


class MedicationKind(StrEnum):
    ORDER = "order"  # HL7 RDE^O11, FHIR MedicationRequest
    ADMINISTRATION = "administration"  # HL7 RAS^O17, FHIR MedicationAdministration


# Statuses under which nothing was, or will be, given: the rules leave such an event out.
# HL7 ORC-1 CA/DC/OC/OD (cancel, discontinue), RXA-20 NA/RE (not administered, refused);
# FHIR cancelled, entered-in-error, stopped, not-done, draft.
VOID_STATUSES = frozenset({"cancelled", "entered-in-error", "stopped", "not-done", "draft",
                           "refused"})


@dataclass(frozen=True, slots=True)
class Medication:
    """One version of one order or administration. `key` is its identity within the feed
    (ORC placer/filler number, FHIR id, CSV medication_id): a later version replaces it."""

    key: str
    kind: MedicationKind
    at: datetime  # UTC: when ordered to start (TQ1-7, authoredOn) or given (RXA-3)
    text: str  # the sender's words ("Sodium chloride 3% 250 mL IV")
    status: str = "active"  # lower case: active, completed, cancelled, ...
    local_code: str | None = None
    code_system: str | None = None
    rxnorm: str | None = None
    amount: str | None = None  # as sent ("250")
    unit: str | None = None  # as sent ("mL")
    route: str | None = None  # as sent ("IV")
    med_class: MedicationClass | None = None  # None: unknown, shown as such, never guessed

    @property
    def counts(self) -> bool:
        """Whether the medication was (to be) given: a cancelled order does not count."""
        return self.status not in VOID_STATUSES


# The project's default text patterns: (class, regular expression), tried in this order on
# the sender's text in lower case; the first that matches gives the class. Hypertonic before
# isotonic and hypotonic (a "3%" must not read as anything else); isotonic before hypotonic
# ("dextrose 5% in sodium chloride 0.9%" is isotonic saline with dextrose). Project default,
# docs/clinical-rules.md §2.5; a profile may replace the list (treatment.text_patterns).
_NACL = r"(?:sodium chloride|nacl|saline)"
DEFAULT_TEXT_PATTERNS: tuple[tuple[str, str], ...] = (
    ("hypertonic-saline", r"hypertonic saline"),
    ("hypertonic-saline", _NACL + r"[^%]{0,20}?(?<![\d.])(?:1\.8|2|3|5|7\.5|10|23\.4)\s*%"),
    ("hypertonic-saline", r"(?<![\d.])(?:1\.8|2|3|5|7\.5|10|23\.4)\s*%\s*" + _NACL),
    ("salt-tablets", _NACL + r"[^%]{0,30}?\b(?:tab|tabs|tablet|tablets)\b"),
    ("salt-tablets", r"\bsalt tablets?\b"),
    ("isotonic-saline", _NACL + r"[^%]{0,20}?(?<![\d.])0?\.9\s*%"),
    ("isotonic-saline", r"(?<![\d.])0?\.9\s*%\s*" + _NACL),
    ("isotonic-saline", r"\bnormal saline\b"),
    ("hypotonic-fluid", r"(?<![\d.])0?\.45\s*%"),
    ("hypotonic-fluid", r"\bhalf[- ]normal saline\b"),
    ("hypotonic-fluid", r"\bd5w\b"),
    ("hypotonic-fluid", r"\b(?:dextrose|glucose)\s*5\s*%"),
    ("hypotonic-fluid", r"(?<![\d.])5\s*%\s*(?:dextrose|glucose)"),
    ("vaptan", r"\b(?:tolvaptan|samsca|jinarc|jynarque|conivaptan|vaprisol)\b"),
    ("desmopressin", r"\b(?:desmopressin|ddavp|minirin)\b"),
    # Oral urea for SIADH; a urea cream or lotion is no treatment of sodium.
    ("urea", r"\burea\b(?!.*\b(?:cream|lotion|ointment|gel)\b)"),
    ("loop-diuretic", r"\b(?:furosemide|frusemide|lasix|bumetanide|bumex|torsemide|"
                      r"torasemide|ethacrynic acid)\b"),
    ("thiazide-diuretic", r"\b(?:hydrochlorothiazide|hctz|chlorthalidone|chlortalidone|"
                          r"indapamide|metolazone|bendroflumethiazide|chlorothiazide)\b"),
)
