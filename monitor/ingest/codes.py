"""Which coded results and diagnoses the adapters care about.

LOINC codes from docs/clinical-reference.md ("Codes"). A result whose code is not listed here
is ordinary traffic (a full blood count, say) and is skipped without a reject.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from monitor.engine.model import Analyte, Method
from monitor.engine.risk import SNOMED_PREFIX

_LAB, _POC, _URINE = Method.LAB, Method.POINT_OF_CARE, Method.URINE
_VITAL = Method.VITAL_SIGN

# FHIR NDJSON Observation lines whose text names none of these codes (nor a local code) are
# skipped unparsed (monitor.ingest.fhir_split.not_ours): an Observation code read anywhere
# else must be added to that pre-scan too.
# LOINC -> (analyte, method). Whole-blood codes are measured on blood gas analysers or
# point-of-care devices (direct ISE), which read 2-4 mmol/L apart from the core lab.
ANALYTES: dict[str, tuple[Analyte, Method]] = {
    "2951-2": (Analyte.SODIUM, _LAB),  # serum or plasma
    "2947-0": (Analyte.SODIUM, _POC),  # blood
    "32717-1": (Analyte.SODIUM, _POC),  # arterial blood
    "39791-9": (Analyte.SODIUM, _POC),  # venous blood
    "39792-7": (Analyte.SODIUM, _POC),  # capillary blood
    "41657-8": (Analyte.SODIUM, _POC),  # mixed venous blood
    "77139-4": (Analyte.SODIUM, _LAB),  # serum, plasma or blood: the specimen decides
    "2955-3": (Analyte.URINE_SODIUM, _URINE),  # per volume
    "2956-1": (Analyte.URINE_SODIUM, _URINE),  # per 24 h
    "2828-2": (Analyte.URINE_POTASSIUM, _URINE),  # Potassium [Moles/volume] in Urine
    "2695-5": (Analyte.URINE_OSMOLALITY, _URINE),  # Osmolality of Urine (mOsm/kg)
    # Urine output (LOINC class IO_OUTPUT, property Vol): over the interval the sender
    # states; 1 h and 24 h are implied by the code when only the end is sent.
    "9187-6": (Analyte.URINE_OUTPUT, _URINE),  # Urine output (Pt)
    "9188-4": (Analyte.URINE_OUTPUT, _URINE),  # Urine output 1 hour
    "9192-6": (Analyte.URINE_OUTPUT, _URINE),  # Urine output 24 hour
    # Body weight (LOINC 29463-7, the FHIR vital-signs body weight code): kg, g or lb.
    "29463-7": (Analyte.BODY_WEIGHT, _VITAL),
    "2823-3": (Analyte.POTASSIUM, _LAB),  # serum or plasma
    "6298-4": (Analyte.POTASSIUM, _POC),  # blood
    "2345-7": (Analyte.GLUCOSE, _LAB),  # serum or plasma
    "2339-0": (Analyte.GLUCOSE, _POC),  # blood
    "41653-7": (Analyte.GLUCOSE, _POC),  # capillary blood, glucometer
}

# Urine output codes whose name fixes the interval (hours): LOINC Time 1H and 24H.
OUTPUT_HOURS: dict[str, float] = {"9188-4": 1.0, "9192-6": 24.0}

# Codes whose specimen may be serum or whole blood; only the specimen text tells the method.
_SPECIMEN_DECIDES = frozenset({"77139-4"})

# Specimen words (and HL7 table 0070 codes BLDA/BLDV/BLDC) that mean a blood gas sample.
_BLOOD_GAS = re.compile(
    r"blood[ _-]?gas|\bbga\b|arterial|\bvenous|capillary|\bbld[avc]\b"
    r"|\bpoc\b|point[ _-]?of[ _-]?care",
    re.IGNORECASE,
)


def is_blood_gas(specimen: str | None) -> bool:
    return bool(specimen) and _BLOOD_GAS.search(specimen or "") is not None


def classify(loinc: str | None, specimen: str | None = None) -> tuple[Analyte, Method] | None:
    """The analyte and method of a LOINC code, or None when the code is not of interest."""
    if loinc is None:
        return None
    known = ANALYTES.get(loinc)
    if known is not None and loinc in _SPECIMEN_DECIDES and is_blood_gas(specimen):
        return known[0], _POC
    return known


def resolve_loinc(
    codings: Iterable[tuple[str, str]], local_codes: Mapping[str, str] | None
) -> str | None:
    """The first coding that is, or maps to, a LOINC code of interest.

    `codings` are (code, system) pairs in the sender's order of preference. A pair counts
    when its system is LOINC (or empty, and the code is a LOINC code we know: senders often
    leave the system out) or when the local-code map translates the code.
    """
    pairs = list(codings)
    for code, system in pairs:
        if code in ANALYTES and (not system or is_loinc_system(system)):
            return code
    if local_codes:
        for code, _system in pairs:
            mapped = local_codes.get(code)
            if mapped is not None:
                return mapped
    return None


def is_loinc_system(system: str) -> bool:
    return system.upper() in {"LN", "LOINC", "HTTP://LOINC.ORG", "URN:OID:2.16.840.1.113883.6.1"}


# ICD-10 and its national variants (ICD-10-CM, -GM, -CA, ...), as HL7 table 0396 and local
# spellings write it; procedure classifications (ICD-10-PCS, I10P) are not diagnoses.
_HL7_ICD10 = re.compile(r"^(I10|ICD10)(C|CM|GM|CA|AM|WHO)?$")
_FHIR_ICD10_OIDS = {"urn:oid:2.16.840.1.113883.6.3", "urn:oid:2.16.840.1.113883.6.90"}


def is_icd10_system(system: str) -> bool:
    """HL7 DG1-3.3 or FHIR Coding.system naming ICD-10 (any national modification)."""
    lowered = system.strip().lower()
    if lowered in _FHIR_ICD10_OIDS:
        return True
    if lowered.startswith(("http://", "https://")):
        tail = lowered.rstrip("/").rsplit("/", 1)[-1]
        return tail.startswith("icd-10") and "pcs" not in tail
    return _HL7_ICD10.match(re.sub(r"[\s._-]", "", system.upper())) is not None


def normalise_icd10(code: str) -> str:
    """ "f10.20 " -> "F1020": the form Diagnosis.code holds."""
    return code.strip().upper().replace(".", "")


# Risk factors a CSV feed may name instead of coding; the engine's policy maps these names
# and ICD-10 codes alike.
RISK_NAMES = frozenset({"liver-disease", "alcohol-use-disorder", "malnutrition", "hypokalemia"})
_ICD10_CODE = re.compile(r"[A-Z][0-9][0-9A-Z]{0,5}")
_SNOMED_CODE = re.compile(r"SCT:([0-9]{6,18})", re.IGNORECASE)  # SNOMED CT ids: 6-18 digits


def risk_factor_code(text: str) -> str | None:
    """A risk factor's name (lower case), normalised ICD-10 code or SNOMED CT code
    ("SCT:<id>"); None when it is none of them."""
    name = text.strip().lower()
    if name in RISK_NAMES:
        return name
    snomed = _SNOMED_CODE.fullmatch(text.strip())
    if snomed is not None:
        return SNOMED_PREFIX + snomed.group(1)
    code = normalise_icd10(text)
    return code if _ICD10_CODE.fullmatch(code) else None
