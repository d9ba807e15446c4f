"""ORU^R01 OBX -> ResultEvent: which results count, their time, value, unit and status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.engine.model import Analyte, Method, PatientRef, ResultStatus
from monitor.ingest import parse_hl7_stream
from monitor.ingest.events import Item, Reject, ResultEvent, UnmappedCode

from .builders import BERLIN, UTC_TZ, message, msh, obr, obx, orc, oru, pid, pv1, spm


def parse(text: str, **kwargs: object) -> list[Item]:
    return list(parse_hl7_stream(text, source="t.hl7", tz=UTC_TZ, **kwargs))  # type: ignore[arg-type]


def one_result(text: str, **kwargs: object) -> ResultEvent:
    items = parse(text, **kwargs)
    assert len(items) == 1, items
    assert isinstance(items[0], ResultEvent), items[0]
    return items[0]


def one_reject(text: str) -> Reject:
    items = parse(text)
    assert len(items) == 1, items
    assert isinstance(items[0], Reject), items[0]
    return items[0]


def test_result_fields() -> None:
    result = one_result(oru(obx("114", sub_id="1")))

    assert result.patient == PatientRef("CITYGEN", "MRN1")
    assert result.result_key == "F1|2951-2|1"
    assert (result.analyte, result.code, result.method) == (Analyte.SODIUM, "2951-2", Method.LAB)
    assert (result.value_raw, result.unit_raw, result.value_mmol_l) == ("114", "mmol/L", 114.0)
    assert result.collected_at == datetime(2026, 9, 14, 8, tzinfo=UTC)
    assert (result.ward, result.bed, result.test) == ("MED4", "01", False)
    assert result.message_id == "C1"
    assert result.position == "t.hl7:6 (MSH-10 C1)"


def test_collection_time_prefers_spm17_then_obr7_then_obx14() -> None:
    spm_time, obr_time, obx_time = "202609140700", "202609140800", "202609140900"
    with_spm = oru(obx(time=obx_time), spm(time=spm_time), order=obr(time=obr_time))
    with_obr = oru(obx(time=obx_time), order=obr(time=obr_time))
    with_obx = oru(obx(time=obx_time), order=obr(time=""))

    assert one_result(with_spm).collected_at.hour == 7
    assert one_result(with_obr).collected_at.hour == 8
    assert one_result(with_obx).collected_at.hour == 9


def test_spm17_range_start_is_the_collection_time() -> None:
    text = oru(obx(), spm(time="202609140615^202609140630"))

    assert one_result(text).collected_at == datetime(2026, 9, 14, 6, 15, tzinfo=UTC)


def test_no_collection_time_is_rejected() -> None:
    reject = one_reject(oru(obx(time=""), order=obr(time="")))

    assert reject.reason == "no collection time (SPM-17, OBR-7 or OBX-14)"
    assert reject.position == "t.hl7:6 (MSH-10 C1)"


def test_unreadable_collection_time_is_rejected() -> None:
    reject = one_reject(oru(order=obr(time="2026-09-14")))

    assert "OBR-7 collection time '2026-09-14'" in reject.reason


def test_naive_times_are_local_across_the_spring_dst_change() -> None:
    before = oru(order=obr(time="202603290130"))
    after = oru(order=obr(time="202603290330"))
    items = [*parse_hl7_stream(before + after, source="t.hl7", tz=BERLIN)]

    first, second = (item.collected_at for item in items if isinstance(item, ResultEvent))
    assert first == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # CET, +01:00
    assert second - first == timedelta(hours=1)  # CEST, +02:00


def test_offset_in_the_timestamp_wins_over_the_feed_zone() -> None:
    text = oru(order=obr(time="20260914080000-0500"))

    result = next(iter(parse_hl7_stream(text, source="t.hl7", tz=BERLIN)))
    assert isinstance(result, ResultEvent)
    assert result.collected_at == datetime(2026, 9, 14, 13, tzinfo=UTC)


@pytest.mark.parametrize("value", ["^119", "=^119"])
def test_structured_numeric_values_are_read(value: str) -> None:
    result = one_result(oru(obx(value, kind="SN")))

    assert (result.value_mmol_l, result.value_raw) == (119.0, value)


@pytest.mark.parametrize("value", ["<^100", ">^180", "<=^100"])
def test_censored_sn_values_are_rejected(value: str) -> None:
    assert "is censored" in one_reject(oru(obx(value, kind="SN"))).reason


def test_censored_text_value_is_rejected() -> None:
    assert "is censored" in one_reject(oru(obx("<100", kind="ST"))).reason


def test_sn_range_is_rejected() -> None:
    reason = one_reject(oru(obx("^120^-^125", kind="SN"))).reason

    assert reason == "value '^120^-^125' is a range or ratio, not a single value"


@pytest.mark.parametrize(
    ("unit", "reason"),
    [
        ("mg/dL", "unit 'mg/dL' is not accepted for sodium (mmol/L or mEq/L)"),
        ("", "unit '' is not accepted for sodium (mmol/L or mEq/L)"),
        ("mmol/kg", "unit 'mmol/kg' is not accepted for sodium (mmol/L or mEq/L)"),
    ],
)
def test_other_units_are_rejected(unit: str, reason: str) -> None:
    assert one_reject(oru(obx(unit=unit))).reason == reason


@pytest.mark.parametrize(
    "unit", ["mmol/L", "MMOL/L", "mEq/L", "meq/L", "mmol/L^millimole per liter^UCUM"]
)
def test_accepted_units(unit: str) -> None:
    assert one_result(oru(obx(unit=unit))).value_mmol_l == 114


@pytest.mark.parametrize("value", ["79", "201", "1140"])
def test_sodium_outside_80_to_200_is_rejected(value: str) -> None:
    assert "outside the plausible range 80-200 mmol/L" in one_reject(oru(obx(value))).reason


def test_non_numeric_value_is_rejected() -> None:
    assert (
        one_reject(oru(obx("hemolysed", kind="ST"))).reason == "value 'hemolysed' is not a number"
    )


def test_missing_value_is_rejected_for_a_final_result() -> None:
    assert one_reject(oru(obx(""))).reason == "no value"


def test_urine_sodium_is_exempt_from_serum_unit_and_range() -> None:
    result = one_result(oru(obx("250", code="2956-1^Sodium 24h urine^LN", unit="mmol/(24.h)")))

    assert (result.analyte, result.method, result.value_mmol_l) == (
        Analyte.URINE_SODIUM,
        Method.URINE,
        250.0,
    )


def test_potassium_is_read_with_the_unit_check() -> None:
    result = one_result(oru(obx("3.1", code="2823-3^Potassium^LN")))

    assert (result.analyte, result.value_mmol_l) == (Analyte.POTASSIUM, 3.1)
    assert "for potassium" in one_reject(oru(obx("3.1", code="6298-4^K^LN", unit="mg/L"))).reason


def test_other_analytes_are_counted_not_rejected() -> None:
    cbc = [obx("13.5", code="718-7^Hemoglobin^LN", unit="g/dL"),
           obx("abc", code="X^y^L^HGB^Haemoglobin^99LAB")]

    assert parse(oru(*cbc)) == [UnmappedCode("LN", "718-7", "t.hl7:6 (MSH-10 C1)"),
                                UnmappedCode("L", "X", "t.hl7:7 (MSH-10 C1)"),
                                UnmappedCode("99LAB", "HGB", "t.hl7:7 (MSH-10 C1)")]


@pytest.mark.parametrize("code", ["2947-0", "32717-1", "39791-9", "39792-7", "41657-8"])
def test_whole_blood_codes_are_point_of_care(code: str) -> None:
    result = one_result(oru(obx(code=f"{code}^Sodium^LN")))

    assert (result.analyte, result.method, result.code) == (
        Analyte.SODIUM,
        Method.POINT_OF_CARE,
        code,
    )


def test_77139_4_method_follows_the_specimen() -> None:
    code = "77139-4^Sodium SerPlBld^LN"
    lab = one_result(oru(obx(code=code), spm(kind="SER^Serum^HL70487")))
    gas = one_result(oru(obx(code=code), spm(kind="BLDA^Blood arterial^HL70487")))
    by_obr15 = one_result(oru(obx(code=code), order=obr(specimen="BLDV&Venous blood&HL70070")))

    assert (lab.method, lab.specimen) == (Method.LAB, "Serum")
    assert (gas.method, gas.specimen) == (Method.POINT_OF_CARE, "Blood arterial")
    assert (by_obr15.method, by_obr15.specimen) == (Method.POINT_OF_CARE, "Venous blood")


def test_loinc_alternate_in_cwe_components_4_to_6() -> None:
    result = one_result(oru(obx(code="NA^Sodium^L^2951-2^Sodium SerPl^LN")))

    assert (result.code, result.result_key) == ("2951-2", "F1|NA|")


def test_local_code_map() -> None:
    text = oru(obx(code="NAPOC^Sodium POC^99LAB"))

    assert parse(text) == [UnmappedCode("99LAB", "NAPOC", "t.hl7:6 (MSH-10 C1)")]
    result = one_result(text, local_codes={"NAPOC": "32717-1"})
    assert (result.code, result.method) == ("32717-1", Method.POINT_OF_CARE)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("F", ResultStatus.FINAL),
        ("C", ResultStatus.CORRECTED),
        ("P", ResultStatus.PRELIMINARY),
        ("U", ResultStatus.MAKE_FINAL),
        ("D", ResultStatus.REMOVED),
        ("W", ResultStatus.REMOVED),
        ("X", ResultStatus.REMOVED),
    ],
)
def test_status_mapping(code: str, status: ResultStatus) -> None:
    result = one_result(oru(obx(status=code)))

    assert result.status is status
    assert result.value_mmol_l == (None if status is ResultStatus.REMOVED else 114)


@pytest.mark.parametrize("code", ["", "R", "I", "S", "A", "N"])
def test_other_statuses_are_rejected(code: str) -> None:
    assert (
        f"OBX-11 result status '{code}' is not usable" in one_reject(oru(obx(status=code))).reason
    )


@pytest.mark.parametrize("code", ["D", "W", "X", "U"])
def test_removal_and_make_final_need_no_value(code: str) -> None:
    assert one_result(oru(obx("", unit="", status=code))).value_mmol_l is None


def test_pid3_repetition_typed_mr_is_the_patient() -> None:
    text = message(msh(), pid("900001^^^NATL^NI~MRN7^^^CITYGEN&1.2.3&ISO^MR"), orc(), obr(), obx())

    assert one_result(text).patient == PatientRef("CITYGEN", "MRN7")


def test_pid3_without_mr_uses_the_first_repetition() -> None:
    text = message(msh(), pid("A1~B2^^^OTHER^PI"), orc(), obr(), obx())

    assert one_result(text).patient == PatientRef("", "A1")


def test_filler_number_falls_back_to_orc3_and_is_required() -> None:
    from_orc = message(msh(), pid(), orc("ORCF"), obr(filler=""), obx())
    without = message(msh(), pid(), orc(""), obr(filler=""), obx())

    assert one_result(from_orc).result_key == "ORCF|2951-2|"
    assert "no filler order number" in one_reject(without).reason


def test_training_message_results_are_test() -> None:
    assert one_result(oru(head=msh(processing="T"))).test
    assert one_result(oru(head=msh(processing="D"))).test


def test_one_bad_obx_does_not_lose_the_others() -> None:
    items = parse(oru(obx("118"), obx("mg", unit="mg/dL"), obx("120", sub_id="2")))

    assert [type(item).__name__ for item in items] == ["ResultEvent", "Reject", "ResultEvent"]
    assert items[1].position == "t.hl7:7 (MSH-10 C1)"


def test_patient_groups_and_ward_per_pid() -> None:
    text = message(
        msh(),
        pid("P1^^^H^MR"),
        pv1("ICU^^3"),
        obr(),
        obx(),
        pid("P2^^^H^MR"),
        obr(filler="F2"),
        obx("130"),
    )
    first, second = (item for item in parse(text) if isinstance(item, ResultEvent))

    assert (first.patient.identifier, first.ward, first.bed) == ("P1", "ICU", "3")
    assert (second.patient.identifier, second.ward, second.bed) == ("P2", None, None)


def test_missing_pid_is_a_message_error() -> None:
    reject = one_reject(message(msh(), obr(), obx()))

    assert reject.reason == "OBR before any PID segment"
    assert reject.position == "t.hl7:1 (MSH-10 C1)"


def test_obx_without_obr_uses_orc_and_obx14() -> None:
    text = message(msh(), pid(), orc("ORCF"), obx(time="202609140945"))
    result = one_result(text)

    assert result.result_key == "ORCF|2951-2|"
    assert result.collected_at == datetime(2026, 9, 14, 9, 45, tzinfo=UTC)


@pytest.mark.parametrize(("value", "unit", "mg_dl"), [("720", "mg/dL", 720.0),
                                                      ("40", "mmol/L", 720.64)])
def test_glucose_is_read_for_the_sodium_correction(value: str, unit: str, mg_dl: float) -> None:
    result = one_result(oru(obx(value, code="2345-7^Glucose^LN", unit=unit)))
    assert result.analyte is Analyte.GLUCOSE
    assert round(result.value_mmol_l * 18.016, 2) == mg_dl  # type: ignore[operator]


def test_an_implausible_glucose_is_refused() -> None:
    reject = one_reject(oru(obx("9000", code="2345-7^Glucose^LN", unit="mg/dL")))
    assert "outside the plausible range" in reject.reason
