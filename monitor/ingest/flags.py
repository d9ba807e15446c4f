"""Laboratory flags: the lab's own words that a specimen is contaminated or unsuitable.

The adapters only find and carry the words (HL7 SPM-24 / NTE, FHIR Specimen.condition /
Observation.note, the CSV `flags` column); the engine decides that a flagged version is
not counted (monitor.engine.versions).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# Comment fragments that mean the specimen does not reflect the patient's sodium
# (project default, SODIUM_SUSPECT_COMMENTS): a sample drawn above an infusion is diluted
# by it. Matched case-insensitively as substrings, with "-" and "_" read as spaces.
DEFAULT_SUSPECT_COMMENTS: tuple[str, ...] = ("contaminat", "drip arm", "IV fluid")
# HL7 table 0493 (Specimen Condition), FHIR v2-0493: CON = Contaminated.
CONTAMINATED = "CON"
SPECIMEN_CONDITION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0493"
# results.flag is VARCHAR(200): longer words are cut here, never refused by the database.
FLAG_MAX_CHARS = 200


def _fold(text: str) -> str:
    return " ".join(text.lower().replace("-", " ").replace("_", " ").split())


def suspect_words(comments: Iterable[str], suspect: Sequence[str]) -> list[str]:
    """The comments that contain one of the `suspect` fragments, as the lab wrote them."""
    needles = [n for n in (_fold(s) for s in suspect) if n]
    return [c.strip() for c in comments if c.strip() and any(n in _fold(c) for n in needles)]


def flag_text(words: Iterable[str]) -> str | None:
    """The lab's words joined, cut to what the database stores; None when there are none."""
    text = "; ".join(w for w in (" ".join(w.split()) for w in words) if w)
    if not text:
        return None
    return text if len(text) <= FLAG_MAX_CHARS else text[:FLAG_MAX_CHARS - 1] + "…"


def condition_words(code: str, text: str) -> str:
    """How a CON specimen condition is shown: the lab's text, and the code it sent."""
    return f"{text.strip() or 'Contaminated'} (specimen condition {code})"
