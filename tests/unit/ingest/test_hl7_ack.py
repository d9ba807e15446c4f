"""ACK messages: MSA-1 code, MSA-2 original control id, ERR with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

import hl7
import pytest

from monitor.ingest import build_ack, parse_hl7_message

from .builders import UTC_TZ, msh, oru

NOW = datetime(2026, 9, 14, 9, 30, 5, tzinfo=UTC)


def segments(ack: str) -> list[str]:
    assert ack.endswith("\r") and "\n" not in ack
    return ack.rstrip("\r").split("\r")


def test_accept_from_raw_message() -> None:
    ack = build_ack(oru(head=msh(control="MSG42")), "AA", now=NOW)
    head, msa = segments(ack)

    assert msa == "MSA|AA|MSG42"
    fields = head.split("|")
    assert fields[2:6] == ["SODMON", "CITYGEN", "LIS", "CITYGEN"]  # sender and receiver swap
    assert fields[6] == "20260914093005+0000"
    assert fields[8] == "ACK^R01^ACK"
    assert fields[10:12] == ["P", "2.5.1"]


def test_error_states_why() -> None:
    parsed = hl7.parse(build_ack(oru(), "AE", "unit 'mg/dL' | not accepted", now=NOW))

    assert str(parsed.segment("MSA")(1)) == "AE"
    assert str(parsed.segment("MSA")(2)) == "C1"
    err = parsed.segment("ERR")
    assert str(err(3)) == "207^Application internal error^HL70357"
    assert str(err(4)) == "E"
    assert parsed.unescape(str(err(8))) == "unit 'mg/dL' | not accepted"


def test_reject_of_unsupported_message_from_outcome() -> None:
    outcome = parse_hl7_message(oru(head=msh(version="2.7", control="V27")), source="m", tz=UTC_TZ)
    assert outcome.unsupported is not None

    ack = build_ack(outcome, "AR", outcome.unsupported, now=NOW)
    msa, err = segments(ack)[1:]

    assert msa.startswith("MSA|AR|V27|")
    assert err.startswith("ERR||MSH^1^12|203^Unsupported version id^HL70357|E|")


def test_enhanced_mode_commit_codes() -> None:
    outcome = parse_hl7_message(oru(head=msh(accept_ack="AL")), source="m", tz=UTC_TZ)

    assert segments(build_ack(outcome, "CA", now=NOW))[1] == "MSA|CA|C1"


def test_accept_with_text_is_a_warning() -> None:
    err = segments(build_ack(oru(), "AA", "1 result rejected", now=NOW))[2]

    assert err.startswith("ERR|||0^Message accepted^HL70357|W|")


def test_unknown_code_is_refused() -> None:
    with pytest.raises(ValueError, match="acknowledgement code"):
        build_ack(oru(), "OK")


def test_reject_without_a_named_cause_is_an_application_error() -> None:
    outcome = parse_hl7_message(oru(), source="m", tz=UTC_TZ)
    err = segments(build_ack(outcome, "AR", "cannot store now; resend later", now=NOW))[2]

    assert err.startswith("ERR|||207^Application internal error^HL70357|E|")
