"""MSH-15 / MSH-16 (HL7 v2.5 section 2.9, table 0155) -> the acknowledgements sent."""

from __future__ import annotations

import pytest

from monitor.ingest.hl7_ack_mode import acknowledgement_codes


@pytest.mark.parametrize("outcome", ["A", "E", "R"])
def test_original_mode_when_both_are_empty(outcome: str) -> None:
    assert acknowledgement_codes("", "", outcome) == ["A" + outcome]


@pytest.mark.parametrize(("msh15", "msh16", "outcome", "codes"), [
    ("AL", "AL", "A", ["CA", "AA"]),
    ("AL", "AL", "E", ["CE"]),  # refused at accept: not processed, no application ACK
    ("AL", "", "A", ["CA"]),
    ("NE", "AL", "A", ["AA"]),
    ("NE", "AL", "R", ["AR"]),  # no accept ACK asked for: the refusal goes in the AR
    ("NE", "NE", "A", []),
    ("ER", "ER", "A", []),
    ("ER", "ER", "E", ["CE"]),
    ("SU", "ER", "A", ["CA"]),
    ("SU", "ER", "E", ["AE"]),
    ("SU", "SU", "R", []),
    ("XX", "", "E", ["CE"]),  # an unknown value asks for everything
])
def test_enhanced_mode(msh15: str, msh16: str, outcome: str, codes: list[str]) -> None:
    assert acknowledgement_codes(msh15, msh16, outcome) == codes
