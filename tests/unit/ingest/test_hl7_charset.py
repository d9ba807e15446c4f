"""MSH-18 decides how a frame's bytes are read; bytes it cannot read are refused."""

from __future__ import annotations

from monitor.ingest.hl7_charset import declared, decode


def msh(charset: str) -> bytes:
    return f"MSH|^~\\&|LIS|H|SM|H|20260101||ORU^R01|C1|P|2.5.1||||||{charset}\r".encode()


def test_declared_reads_the_first_repetition_of_msh_18() -> None:
    assert declared(msh("8859/1~UNICODE UTF-8")) == "8859/1"
    assert declared(msh("")) == ""
    assert declared(b"PID|1") == ""


def test_latin_1_declared_is_read_as_latin_1() -> None:
    decoded = decode(msh("8859/1") + "PID|1||P1||M\xfcller".encode("latin-1"))
    assert decoded.error is None and decoded.text.endswith("M\u00fcller")


def test_latin_1_bytes_without_msh_18_are_refused_not_replaced() -> None:
    decoded = decode(msh("") + "PID|1||P1||M\xfcller".encode("latin-1"))
    assert decoded.error is not None and "0xFC" in decoded.error and "UTF-8" in decoded.error
    assert (decoded.error_code, decoded.unsupported) == ("102", False)


def test_ascii_declared_refuses_eight_bit_bytes_and_utf_8_reads_them() -> None:
    body = "PID|1||P1||M\u00fcller".encode()
    assert decode(msh("ASCII") + body).error is not None
    assert decode(msh("UNICODE UTF-8") + body).error is None


def test_an_unknown_character_set_is_unsupported() -> None:
    decoded = decode(msh("8859/2"))
    assert decoded.unsupported and decoded.error_code == "103"
    assert "'8859/2' is not supported" in (decoded.error or "")
