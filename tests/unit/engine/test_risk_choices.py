"""The risk factors a physician may pick on the patient page: the policy's own list."""

from __future__ import annotations

from monitor.engine.messages import diagnosis_words, risk_choices
from monitor.engine.policy import load_policy
from monitor.engine.risk import factors_from_diagnoses


def test_the_default_list_names_each_factor_with_its_icd10_codes() -> None:
    assert risk_choices(load_policy("default")) == [
        ("liver-disease", "liver disease (ICD-10 K70–K77)"),
        ("alcohol-use-disorder", "alcohol use disorder (ICD-10 F10)"),
        ("malnutrition", "malnutrition (ICD-10 E40–E46, E64, R64)"),
        ("hypokalemia", "hypokalemia (ICD-10 E87.6)")]


def test_a_hospitals_own_factor_is_recorded_as_a_code_that_maps_back_to_it() -> None:
    policy = load_policy("default").model_copy(update={"risk_codes": {
        "heart-failure": ["I50"], "liver-disease": ["K70-K72"]}})
    choices = risk_choices(policy)
    assert choices == [("I50", "heart failure (ICD-10 I50)"),
                       ("liver-disease", "liver disease (ICD-10 K70–K72)")]
    assert factors_from_diagnoses([choices[0][0]], policy) == {"heart-failure"}


def test_a_recorded_diagnosis_reads_as_its_factor_with_the_code() -> None:
    policy = load_policy("default")
    assert diagnosis_words("K703", policy) == "liver disease (K70.3)"
    assert diagnosis_words("hypokalemia", policy) == "hypokalemia"
    assert diagnosis_words("E871", policy) == "E87.1 (no risk factor under this policy)"
