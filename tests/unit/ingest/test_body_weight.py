"""Body weight (LOINC 29463-7) from FHIR, HL7 and CSV: held in kg, implausible values refused."""

from __future__ import annotations

import pytest

from monitor.engine.model import Analyte, Method, ResultStatus
from monitor.ingest.checks import Unusable, measured_value

from .builders import obx, oru
from .test_fhir_feed import LOINC, observation, reject, result
from .test_hl7_results import one_reject, one_result


def weight(value: float, unit: str, code: str = "[lb_av]") -> dict[str, object]:
    return observation(code={"coding": [{"system": LOINC, "code": "29463-7",
                                         "display": "Body weight"}]},
                       valueQuantity={"value": value, "unit": unit,
                                      "system": "http://unitsofmeasure.org", "code": code})


def test_fhir_body_weight_in_kg() -> None:
    r = result(weight(60, "kg", "kg"))
    assert (r.analyte, r.method, r.value_mmol_l) == (Analyte.BODY_WEIGHT, Method.VITAL_SIGN, 60)


def test_fhir_body_weight_in_pounds_is_held_in_kg() -> None:
    r = result(weight(150, "lb", "[lb_av]"))  # the UCUM code, as FHIR's examples send it
    assert r.value_mmol_l == pytest.approx(68.04, abs=0.01)


def test_fhir_body_weight_in_another_unit_is_rejected() -> None:
    assert "kg, g or lb" in reject(weight(60, "mmol/L", "mmol/L")).reason


def test_fhir_implausible_body_weight_is_rejected() -> None:
    assert "outside the plausible range 0.5-500 kg" in reject(weight(600, "kg", "kg")).reason


def test_hl7_body_weight_in_grams_is_held_in_kg() -> None:
    r = one_result(oru(obx("3400", code="29463-7^Body weight^LN", unit="g")))
    assert (r.analyte, r.method, r.value_mmol_l) == (Analyte.BODY_WEIGHT, Method.VITAL_SIGN,
                                                     3.4)


def test_hl7_body_weight_in_lb() -> None:
    r = one_result(oru(obx("132.3", code="29463-7^Body weight^LN", unit="lb")))
    assert r.value_mmol_l == pytest.approx(60.01, abs=0.01)


def test_hl7_body_weight_of_zero_is_rejected() -> None:
    text = oru(obx("0", code="29463-7^Body weight^LN", unit="kg"))
    assert "plausible range" in one_reject(text).reason


@pytest.mark.parametrize(("value", "unit", "kg"), [
    ("0.5", "kg", 0.5), ("500", "KG", 500.0), ("500", "g", 0.5)])
def test_the_plausible_range_includes_its_ends(value: str, unit: str, kg: float) -> None:
    assert measured_value(Analyte.BODY_WEIGHT, value, unit, ResultStatus.FINAL) == \
        pytest.approx(kg)


@pytest.mark.parametrize(("value", "unit"), [("0.49", "kg"), ("500.1", "kg"), ("-60", "kg")])
def test_outside_the_plausible_range_is_refused(value: str, unit: str) -> None:
    with pytest.raises(Unusable, match="plausible range"):
        measured_value(Analyte.BODY_WEIGHT, value, unit, ResultStatus.FINAL)


def test_csv_body_weight_row_is_a_vital_sign_in_kg() -> None:
    from .test_csv_feed import only_result

    r = only_result("patient_id,collected_at,sodium,unit,analyte\n"
                    "P1,2026-09-14T08:00:00+00:00,154,lb,body-weight\n")
    assert (r.analyte, r.method) == (Analyte.BODY_WEIGHT, Method.VITAL_SIGN)
    assert r.value_mmol_l == pytest.approx(69.85, abs=0.01)
