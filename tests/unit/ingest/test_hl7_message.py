"""Streams and single messages: framing, line endings, positions, header checks."""

from __future__ import annotations

import pytest

from monitor.ingest import parse_hl7_message, parse_hl7_stream
from monitor.ingest.events import Reject, ResultEvent

from .builders import UTC_TZ, msh, obx, oru


def two_messages(sep: str) -> list[str]:
    return [
        oru(obx("114"), head=msh(control="C1")).replace("\r", sep),
        oru(obx("118"), head=msh(control="C2")).replace("\r", sep),
    ]


def summary(text: str) -> list[tuple[str, float | None, str]]:
    items = list(parse_hl7_stream(text, source="f.hl7", tz=UTC_TZ))
    assert all(isinstance(item, ResultEvent) for item in items), items
    return [(i.result_key, i.value_mmol_l, i.position) for i in items]  # type: ignore[union-attr]


EXPECTED = [
    ("F1|2951-2|", 114.0, "f.hl7:6 (MSH-10 C1)"),
    ("F1|2951-2|", 118.0, "f.hl7:12 (MSH-10 C2)"),
]


@pytest.mark.parametrize("sep", ["\r", "\n", "\r\n"])
def test_plain_streams_with_any_segment_terminator(sep: str) -> None:
    assert summary("".join(two_messages(sep))) == EXPECTED


def test_mllp_framed_stream() -> None:
    framed = "".join(f"\x0b{m}\x1c\r" for m in two_messages("\r"))

    assert [value for _, value, _ in summary(framed)] == [114.0, 118.0]
    # The frame's trailing \r adds one (empty) line after each message.
    assert summary(framed)[1][2] == "f.hl7:13 (MSH-10 C2)"


def test_blank_lines_between_messages_are_skipped() -> None:
    text = "\n\n".join(two_messages("\n"))

    assert [value for _, value, _ in summary(text)] == [114.0, 118.0]


def test_text_before_the_first_msh_is_rejected() -> None:
    items = list(parse_hl7_stream("garbage\r" + oru(), source="f.hl7", tz=UTC_TZ))

    assert isinstance(items[0], Reject)
    assert items[0].position == "f.hl7:1"
    assert "not an HL7 message" in items[0].reason
    assert isinstance(items[1], ResultEvent)


def test_single_message_outcome_header() -> None:
    outcome = parse_hl7_message(
        oru(head=msh(control="X9", processing="T", version="2.4", accept_ack="AL")),
        source="mllp",
        tz=UTC_TZ,
    )

    assert (outcome.control_id, outcome.message_type, outcome.version) == ("X9", "ORU^R01", "2.4")
    assert (outcome.processing_id, outcome.accept_ack_type) == ("T", "AL")
    assert (outcome.error, outcome.unsupported) == (None, None)
    assert (outcome.sending_application, outcome.receiving_application) == ("LIS", "SODMON")
    assert len(outcome.items) == 1


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (msh(kind="ORM^O01"), "message type 'ORM^O01' is not supported"),
        (msh(kind="ADT^A31^ADT_A05"), "message type 'ADT^A31' is not supported"),
        (msh(version="2.6"), "HL7 version '2.6' is not supported (2.3 to 2.5.1)"),
        (msh(version="2.2"), "HL7 version '2.2' is not supported"),
        (msh(processing="X"), "processing id 'X' is not supported (P, T, D)"),
    ],
)
def test_unsupported_messages(head: str, reason: str) -> None:
    outcome = parse_hl7_message(oru(head=head), source="mllp", tz=UTC_TZ)

    assert outcome.unsupported is not None and outcome.unsupported.startswith(reason)
    assert outcome.error is None
    (reject,) = outcome.items
    assert isinstance(reject, Reject) and not reject.content_error
    assert reject.position == "mllp:1 (MSH-10 C1)"


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.5.1"])
def test_supported_versions(version: str) -> None:
    outcome = parse_hl7_message(oru(head=msh(version=version)), source="mllp", tz=UTC_TZ)

    assert outcome.unsupported is None and outcome.error is None


def test_missing_control_id_is_a_content_error() -> None:
    outcome = parse_hl7_message(oru(head=msh(control="")), source="mllp", tz=UTC_TZ)

    assert outcome.error == "MSH-10 (message control id) is empty"
    assert outcome.error_code == "101"
    (reject,) = outcome.items
    assert isinstance(reject, Reject) and reject.content_error


def test_unparsable_message() -> None:
    outcome = parse_hl7_message("hello world", source="mllp", tz=UTC_TZ)

    assert outcome.error is not None and "not an HL7 message" in outcome.error
    assert len(outcome.items) == 1


def test_single_message_may_be_mllp_framed() -> None:
    outcome = parse_hl7_message(f"\x0b{oru()}\x1c\r", source="mllp", tz=UTC_TZ)

    assert outcome.error is None and isinstance(outcome.items[0], ResultEvent)


def test_two_messages_where_one_is_expected() -> None:
    outcome = parse_hl7_message(oru() + oru(), source="mllp", tz=UTC_TZ)

    assert outcome.error == "2 messages where one expected"


@pytest.mark.parametrize(("head", "code", "location"), [
    (msh(kind="ORM^O01"), "200", "MSH^1^9^1^1"),
    (msh(kind="ADT^A31^ADT_A05"), "201", "MSH^1^9^1^2"),  # a type we take, not that event
    (msh(version="2.6"), "203", "MSH^1^12"),
    (msh(processing="X"), "202", "MSH^1^11"),
    (msh(control=""), "101", "MSH^1^10"),
])
def test_refusals_name_their_table_0357_code_and_location(
        head: str, code: str, location: str) -> None:
    outcome = parse_hl7_message(oru(head=head), source="mllp", tz=UTC_TZ)

    assert (outcome.error_code, outcome.error_location) == (code, location)


@pytest.mark.parametrize("text", [
    msh(),
    msh() + "\rPID|1||MRN1^^^CITYGEN^MR",
    oru().split("\rOBX")[0],  # MSH PID PV1 ORC OBR
])
def test_an_oru_without_an_obx_is_a_content_error(text: str) -> None:
    outcome = parse_hl7_message(text, source="mllp", tz=UTC_TZ)

    assert outcome.error == "ORU^R01 without an OBX segment: no result in the message"
    assert (outcome.error_code, outcome.error_location) == ("100", "OBX^1")
    (reject,) = outcome.items
    assert isinstance(reject, Reject) and reject.content_error


def test_msh_16_is_read() -> None:
    outcome = parse_hl7_message(oru(head=msh() + "|||AL|NE"), source="mllp", tz=UTC_TZ)

    assert (outcome.accept_ack_type, outcome.application_ack_type) == ("AL", "NE")
