"""CSV feeds: required and optional columns, rejects per row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.engine.model import Analyte, Method, PatientRef, ResultStatus, RiskSource
from monitor.ingest import parse_csv
from monitor.ingest.events import AcuteMarkEvent, DiagnosisEvent, Item, Reject, ResultEvent

from .builders import BERLIN, UTC_TZ


def parse(text: str) -> list[Item]:
    return list(parse_csv(text, source="f.csv", tz=UTC_TZ))


def only_result(text: str) -> ResultEvent:
    (item,) = parse(text)
    assert isinstance(item, ResultEvent), item
    return item


def only_reject(text: str) -> Reject:
    (item,) = parse(text)
    assert isinstance(item, Reject), item
    return item


def test_required_columns() -> None:
    event = only_result("patient_id,collected_at,sodium\nP1,2026-09-14T08:00:00+00:00,118\n")

    assert event.patient == PatientRef("", "P1")
    assert event.collected_at == datetime(2026, 9, 14, 8, tzinfo=UTC)
    assert (event.analyte, event.method, event.status) == (
        Analyte.SODIUM,
        Method.LAB,
        ResultStatus.FINAL,
    )
    assert (event.value_mmol_l, event.unit_raw, event.code) == (118.0, "mmol/L", None)
    assert event.result_key == "|P1|2026-09-14T08:00:00+00:00|sodium|lab|"
    assert event.key_inferred
    assert event.position == "f.csv:2"


def test_key_is_canonical_utc_whatever_the_written_form() -> None:
    text = "patient_id,collected_at,sodium\nP1,2026-09-14 10:00:00+02:00,118\n"

    assert only_result(text).result_key == "|P1|2026-09-14T08:00:00+00:00|sodium|lab|"


def test_without_result_id_a_blood_gas_value_at_the_same_minute_is_another_result() -> None:
    # V2-03: the lab value and the blood-gas value of 07:00 must not replace each other.
    text = (
        "patient_id,collected_at,sodium,specimen,analyte\n"
        "P1,2026-10-05T07:00:00+00:00,117,,\n"
        "P1,2026-10-05T07:00:00+00:00,121,venous blood gas,\n"
        "P1,2026-10-05T07:00:00+00:00,3.9,,potassium\n"
        "P1,2026-10-05T07:00:00+00:00,118,serum,\n"
    )
    rows = [item for item in parse(text) if isinstance(item, ResultEvent)]

    assert [r.result_key for r in rows] == [
        "|P1|2026-10-05T07:00:00+00:00|sodium|lab|",
        "|P1|2026-10-05T07:00:00+00:00|sodium|poc|",
        "|P1|2026-10-05T07:00:00+00:00|potassium|lab|",
        "|P1|2026-10-05T07:00:00+00:00|sodium|lab|",  # the same identity as the first
    ]
    assert all(r.key_inferred for r in rows)


def test_a_sent_result_id_is_the_key_as_sent() -> None:
    text = "patient_id,collected_at,sodium,result_id\nP1,2026-09-14T08:00:00Z,118,R-9\n"
    event = only_result(text)

    assert (event.result_key, event.key_inferred) == ("R-9", False)


def test_column_names_are_case_insensitive_and_trimmed() -> None:
    event = only_result(" Patient_ID , COLLECTED_AT,Sodium \r\nP1,2026-09-14T08:00:00Z,118\r\n")

    assert event.value_mmol_l == 118


def test_missing_required_column_is_one_reject_for_the_file() -> None:
    reject = only_reject("patient_id,sodium\nP1,118\nP2,120\n")

    assert reject.reason == "missing required column(s): collected_at"
    assert reject.position == "f.csv:1"


def test_optional_columns() -> None:
    text = (
        "patient_authority,patient_id,result_id,collected_at,sodium,unit,status,analyte,specimen\n"
        "CITY,P1,R-1,2026-09-14T08:00:00Z,121,mEq/L,corrected,sodium,arterial blood gas\n"
        "CITY,P1,R-2,2026-09-14T09:00:00Z,3.2,mmol/L,preliminary,potassium,serum\n"
        "CITY,P1,R-3,2026-09-14T10:00:00Z,40,mmol/(24.h),final,urine-sodium,urine\n"
        "CITY,P1,R-1,2026-09-14T08:00:00Z,,,entered-in-error,,\n"
        "CITY,P1,R-4,2026-09-14T11:00:00Z,125,,amended,,\n"
    )
    rows = [item for item in parse(text) if isinstance(item, ResultEvent)]

    assert [r.result_key for r in rows] == ["R-1", "R-2", "R-3", "R-1", "R-4"]
    assert {r.patient for r in rows} == {PatientRef("CITY", "P1")}
    assert [(r.analyte, r.method) for r in rows] == [
        (Analyte.SODIUM, Method.POINT_OF_CARE),
        (Analyte.POTASSIUM, Method.LAB),
        (Analyte.URINE_SODIUM, Method.URINE),
        (Analyte.SODIUM, Method.LAB),
        (Analyte.SODIUM, Method.LAB),
    ]
    assert [r.status for r in rows] == [
        ResultStatus.CORRECTED,
        ResultStatus.PRELIMINARY,
        ResultStatus.FINAL,
        ResultStatus.REMOVED,
        ResultStatus.CORRECTED,
    ]
    assert [r.value_mmol_l for r in rows] == [121, 3.2, 40, None, 125]
    assert rows[0].specimen == "arterial blood gas"


def test_risk_factors_by_name_and_code_once_per_patient() -> None:
    text = (
        "patient_id,collected_at,sodium,risk_factors\n"
        "P1,2026-09-14T08:00:00Z,118,Liver-Disease; f10.20\n"
        "P1,2026-09-14T18:00:00Z,122,liver-disease;E87.6\n"
    )
    items = parse(text)
    diagnoses = [item for item in items if isinstance(item, DiagnosisEvent)]

    assert [d.diagnosis.code for d in diagnoses] == ["liver-disease", "F1020", "E876"]
    assert {d.diagnosis.source for d in diagnoses} == {RiskSource.CSV}
    assert isinstance(items[2], ResultEvent)  # a row's diagnoses come before its result


def test_unknown_risk_factor_is_rejected_but_the_result_kept() -> None:
    items = parse("patient_id,collected_at,sodium,risk_factors\nP1,2026-09-14T08:00:00Z,118,gout\n")

    assert [type(item) for item in items] == [Reject, ResultEvent]
    assert isinstance(items[0], Reject) and "risk factor 'gout'" in items[0].reason


def test_acute_onset_on_any_row_is_one_acute_mark_per_patient_and_onset() -> None:
    text = (
        "patient_id,collected_at,sodium,acute_onset\n"
        "P1,2026-09-14T08:00:00Z,118,\n"
        "P1,2026-09-14T18:00:00Z,122,2026-09-14T06:30:00+02:00\n"
        "P1,2026-09-15T08:00:00Z,126,2026-09-14T04:30:00Z\n"  # the same onset again
        "P2,2026-09-15T08:00:00Z,126,2026-09-15T07:00:00\n"  # naive: the feed's zone
    )
    items = list(parse_csv(text, source="f.csv", tz=BERLIN))
    marks = [item for item in items if isinstance(item, AcuteMarkEvent)]

    assert [(m.patient.identifier, m.onset, m.position) for m in marks] == [
        ("P1", datetime(2026, 9, 14, 4, 30, tzinfo=UTC), "f.csv:3"),
        ("P2", datetime(2026, 9, 15, 5, tzinfo=UTC), "f.csv:5")]
    assert [type(item) for item in items] == [ResultEvent, AcuteMarkEvent, ResultEvent,
                                              ResultEvent, AcuteMarkEvent, ResultEvent]


def test_a_bad_acute_onset_is_rejected_but_the_result_kept() -> None:
    items = parse("patient_id,collected_at,sodium,acute_onset\nP1,2026-09-14T08:00:00Z,118,"
                  "last night\n")

    assert [type(item) for item in items] == [Reject, ResultEvent]
    assert isinstance(items[0], Reject)
    assert items[0].reason == "acute_onset 'last night' is not an ISO 8601 date-time"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (",2026-09-14T08:00:00Z,118", "no patient_id"),
        ("P1,yesterday,118", "collected_at 'yesterday' is not an ISO 8601 date-time"),
        ("P1,2026-09-14T08:00:00Z,", "no value"),
        ("P1,2026-09-14T08:00:00Z,<100", "value '<100' is censored"),
        ("P1,2026-09-14T08:00:00Z,high", "value 'high' is not a number"),
        ("P1,2026-09-14T08:00:00Z,250", "sodium 250 mmol/L is outside the plausible range"),
        ("P1,2026-09-14T08:00:00Z", "row has 2 fields, the header 3"),
    ],
)
def test_bad_rows_are_rejected_with_their_line(row: str, reason: str) -> None:
    items = parse(f"patient_id,collected_at,sodium\nP0,2026-09-14T07:00:00Z,117\n{row}\n")

    assert isinstance(items[1], Reject)
    assert items[1].reason.startswith(reason)
    assert items[1].position == "f.csv:3"


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("status", "registered", "status 'registered' is not one of"),
        ("analyte", "chloride", "analyte 'chloride' is not one of"),
        ("unit", "mg/dL", "unit 'mg/dL' is not accepted for sodium"),
    ],
)
def test_bad_optional_values(column: str, value: str, reason: str) -> None:
    text = f"patient_id,collected_at,sodium,{column}\nP1,2026-09-14T08:00:00Z,118,{value}\n"

    assert only_reject(text).reason.startswith(reason)


def test_naive_time_is_local_to_the_feed() -> None:
    text = "patient_id,collected_at,sodium\nP1,2026-09-14T10:00:00,118\n"
    (event,) = parse_csv(text, source="f.csv", tz=BERLIN)

    assert isinstance(event, ResultEvent)
    assert event.collected_at == datetime(2026, 9, 14, 8, tzinfo=UTC)


def test_blank_lines_and_empty_file() -> None:
    assert parse("") == []
    assert len(parse("patient_id,collected_at,sodium\n\nP1,2026-09-14T08:00:00Z,118\n\n")) == 1


def test_column_named_twice_is_one_reject_for_the_file() -> None:
    reject = only_reject("patient_id,collected_at,sodium,Sodium\nP1,2026-09-14T08:00:00Z,1,2\n")

    assert reject.reason == "column(s) named twice: sodium"


def test_unreadable_row_does_not_end_the_file() -> None:
    huge = "x" * 200_000  # beyond the csv module's field size limit
    text = f'patient_id,collected_at,sodium\nP1,"{huge}",118\nP2,2026-09-14T08:00:00Z,120\n'
    items = parse(text)

    assert isinstance(items[0], Reject) and items[0].reason.startswith("unreadable CSV row")
    assert isinstance(items[-1], ResultEvent) and items[-1].patient.identifier == "P2"


def test_lone_carriage_returns_end_rows() -> None:
    text = (
        "patient_id,collected_at,sodium\rP1,2026-09-14T08:00:00Z,118\rP2,2026-09-14T08:00:00Z,119"
    )

    assert [i.value_mmol_l for i in parse(text) if isinstance(i, ResultEvent)] == [118, 119]


def test_a_urine_output_row_states_its_interval_with_started_at() -> None:
    head = "patient_id,collected_at,sodium,unit,analyte,started_at\n"
    r = only_result(head + "P1,2026-09-14T12:00:00Z,480,mL,urine-output,2026-09-14T08:00:00Z\n")
    assert (r.started_at, r.collected_at) == (datetime(2026, 9, 14, 8, tzinfo=UTC),
                                              datetime(2026, 9, 14, 12, tzinfo=UTC))
    assert only_result(head + "P1,2026-09-14T12:00:00Z,480,mL,urine-output,\n").started_at \
        is None  # no start: stored, never rated
    backwards = only_reject(head + "P1,2026-09-14T12:00:00Z,480,mL,urine-output,"
                            "2026-09-14T13:00:00Z\n")
    assert "ends (2026-09-14T12:00:00+00:00) at or before it starts" in backwards.reason
    assert "for urine output intervals, not sodium" in only_reject(
        head + "P1,2026-09-14T12:00:00Z,131,mmol/L,sodium,2026-09-14T08:00:00Z\n").reason
    assert "started_at 'soon' is not an ISO 8601" in only_reject(
        head + "P1,2026-09-14T12:00:00Z,480,mL,urine-output,soon\n").reason
