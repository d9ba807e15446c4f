"""Urine output over an interval, urine osmolality and urine potassium, from FHIR and HL7."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.engine.model import Analyte, Method
from monitor.ingest import codec
from monitor.ingest.events import ResultEvent

from .builders import obr, obx, oru, seg
from .test_fhir_feed import LOINC, observation, reject, result
from .test_hl7_results import one_reject, one_result


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 9, 14, hour, minute, tzinfo=UTC)


def output(code: str = "9187-6", value: float = 240, unit: str = "mL",
           **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": None,
        "effectivePeriod": {"start": "2026-09-14T08:00:00+00:00",
                            "end": "2026-09-14T09:00:00+00:00"},
        "valueQuantity": {"value": value, "unit": unit}}
    return observation(**{**fields, **changes})


def test_fhir_urine_output_keeps_its_interval_and_is_timed_at_its_end() -> None:
    r = result(output())
    assert (r.analyte, r.method, r.value_mmol_l) == (Analyte.URINE_OUTPUT, Method.URINE, 240)
    assert (r.started_at, r.collected_at) == (at(8), at(9))


def test_fhir_urine_output_in_litres_is_held_in_ml() -> None:
    assert result(output(value=0.25, unit="L")).value_mmol_l == 250


def test_fhir_urine_output_in_another_unit_is_rejected() -> None:
    assert "mL or L" in reject(output(unit="mmol/L")).reason


def test_fhir_24_hour_output_with_one_time_takes_its_interval_from_the_code() -> None:
    r = result(output("9192-6", 2400, effectivePeriod=None,
                      effectiveDateTime="2026-09-15T08:00:00+00:00"))
    assert (r.started_at, r.collected_at) == (at(8), datetime(2026, 9, 15, 8, tzinfo=UTC))


def test_fhir_point_in_time_output_without_a_period_has_no_interval() -> None:
    r = result(output(effectivePeriod=None, effectiveDateTime="2026-09-14T09:00:00+00:00"))
    assert (r.started_at, r.collected_at) == (None, at(9))


def test_fhir_output_interval_ending_before_it_starts_is_rejected() -> None:
    bad = output(effectivePeriod={"start": "2026-09-14T09:00:00+00:00",
                                  "end": "2026-09-14T08:00:00+00:00"})
    assert "at or before it starts" in reject(bad).reason


@pytest.mark.parametrize(("code", "unit", "analyte"), [
    ("2695-5", "mOsm/kg", Analyte.URINE_OSMOLALITY),
    ("2828-2", "mmol/L", Analyte.URINE_POTASSIUM),
])
def test_fhir_urine_osmolality_and_potassium(code: str, unit: str, analyte: Analyte) -> None:
    r = result(observation(code={"coding": [{"system": LOINC, "code": code}]},
                           valueQuantity={"value": 85, "unit": unit}))
    assert (r.analyte, r.method, r.value_mmol_l, r.started_at) == (
        analyte, Method.URINE, 85, None)


def test_fhir_urine_osmolality_in_mmol_per_litre_is_rejected() -> None:
    bad = observation(code={"coding": [{"system": LOINC, "code": "2695-5"}]},
                      valueQuantity={"value": 85, "unit": "mmol/L"})
    assert "mOsm/kg" in reject(bad).reason


def flowsheet(*observations: str, start: str = "202609140800",
              end: str = "202609140900") -> str:
    order = seg("OBR", {1: "1", 2: "ORD1", 3: "FS1", 4: "IO^Intake and output^L",
                        7: start, 8: end})
    return oru(*observations, order=order)


def test_hl7_flowsheet_output_takes_its_interval_from_obr7_and_obr8() -> None:
    r = one_result(flowsheet(obx("260", code="9187-6^Urine output^LN", unit="mL")))
    assert (r.analyte, r.value_mmol_l, r.started_at, r.collected_at) == (
        Analyte.URINE_OUTPUT, 260, at(8), at(9))


def test_hl7_hourly_output_with_obx14_only_takes_one_hour_from_the_code() -> None:
    text = oru(obx("230", code="9188-4^Urine output 1 hour^LN", unit="mL",
                   time="202609141000"), order=obr(time=""))
    r = one_result(text)
    assert (r.started_at, r.collected_at) == (at(9), at(10))


def test_hl7_output_interval_ending_before_it_starts_is_rejected() -> None:
    text = flowsheet(obx("260", code="9187-6^Urine output^LN", unit="mL"),
                     start="202609140900", end="202609140800")
    assert "at or before it starts" in one_reject(text).reason


def test_hl7_urine_osmolality() -> None:
    r = one_result(oru(obx("80", code="2695-5^Osmolality Ur^LN", unit="mosm/kg")))
    assert (r.analyte, r.value_mmol_l) == (Analyte.URINE_OSMOLALITY, 80)


def test_codec_round_trips_the_interval_start() -> None:
    r = result(output())
    stored = codec.load(codec.dump([r]))
    assert stored is not None
    back = stored[0]
    assert isinstance(back, ResultEvent) and back.started_at == at(8) and back == r


def test_fhir_hourly_output_with_only_a_period_start_ends_an_hour_later() -> None:
    r = result(output("9188-4", 120, effectivePeriod={"start": "2026-09-14T08:00:00+00:00"}))
    assert (r.started_at, r.collected_at) == (at(8), at(9))
