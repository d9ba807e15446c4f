"""Which feed a connection is, and which permissions a message needs (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.ingest import Hl7Outcome, parse_hl7_message
from monitor.listener.auth import Peer, bind_refusal, identify, missing, needed
from monitor.services.intake.feeds import Binding
from tests.hl7_builders import oru, ts

START = datetime(2026, 11, 30, 8, tzinfo=UTC)
LIS = Binding("hl7:LIS", "lis", (), frozenset({"results"}))
ADT = Binding("hl7:ADT", None, ("10.1.0.0/16",), frozenset({"results", "adt"}))


def parsed(text: str) -> Hl7Outcome:
    return parse_hl7_message(text, source="hl7:LIS", tz=ZoneInfo("UTC"))


def adt(event: str, *segments: str) -> str:
    structure = "ADT_A39" if event == "A40" else "ADT_A01"
    return "\r".join([f"MSH|^~\\&|ADT|CITYGEN|SODMON|CITYGEN|{ts(START)}||ADT^{event}^"
                      f"{structure}|C{event}|P|2.5.1", f"EVN|{event}|{ts(START)}",
                      "PID|1||NEW1^^^CITYGEN^MR||DOE^ALEX||19560412|F", *segments])


@pytest.mark.parametrize(("message", "need"), [
    (oru("M1", "1", START, 120), {"results"}),
    (oru("M1", "1", START, 120, status="P"), {"results"}),
    (oru("M1", "1", START, 120, status="W"), {"removals"}),
    (oru("M1", "1", START, 120, status="D"), {"removals"}),
    (oru("M1", "1", START, 121, status="C"), {"removals"}),
    (adt("A02", "PV1|1|I|ICU9^0412^01^CITYGEN"), {"adt"}),
    (adt("A03", "PV1|1|I|ICU9^0412^01^CITYGEN"), {"adt"}),
    (adt("A40", "MRG|OLD1^^^CITYGEN^MR"), {"merges"}),
], ids=["final", "preliminary", "W", "D", "corrected", "A02", "A03", "A40"])
def test_the_permissions_a_message_needs(message: str, need: set[str]) -> None:
    assert needed(parsed(message)) == need


def test_a_missing_permission_is_named() -> None:
    assert missing(LIS, parsed(oru("M1", "1", START, 120))) is None
    why = missing(LIS, parsed(oru("M1", "1", START, 120, status="W")))
    assert why == "feed LIS lacks the permission removals (sodium-monitor feeds add --allow)"


def test_a_peer_is_named_by_certificate_then_address() -> None:
    assert identify(Peer("10.1.2.3", ("lis",)), [ADT, LIS]) is LIS
    assert identify(Peer("10.1.2.3"), [ADT, LIS]) is ADT
    assert identify(Peer("10.2.0.1"), [ADT, LIS]) is None
    assert identify(Peer("10.2.0.1", ("other",)), [ADT, LIS]) is None
    assert identify(Peer(""), [ADT, LIS]) is None


def test_only_loopback_or_authenticated_binds_start() -> None:
    assert bind_refusal("127.0.0.1", None, []) is None
    assert bind_refusal("localhost", None, []) is None
    assert bind_refusal("::1", None, []) is None
    assert bind_refusal("0.0.0.0", "/etc/ca.pem", []) is None
    assert bind_refusal("0.0.0.0", None, [ADT]) is None
    assert bind_refusal("0.0.0.0", None, [LIS])  # a certificate binding needs the CA set
    assert bind_refusal("10.0.0.5", None, [])


def test_a_removal_collected_later_still_needs_removals() -> None:
    later = oru("M1", "1", START + timedelta(hours=3), 120, status="X")
    assert "removals" in needed(parsed(later))
