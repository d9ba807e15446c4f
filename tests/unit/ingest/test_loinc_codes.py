"""Every LOINC code the adapters follow carries a valid check digit (LOINC's mod 10): a
mistyped code (the issue's urine osmolality "2695-8" for 2695-5) would never match a feed."""

from __future__ import annotations

import pytest

from monitor.ingest.codes import ANALYTES, OUTPUT_HOURS
from monitor.ingest.fhir_social import HISTORY_OF_ALCOHOL_USE


def check_digit(number: str) -> int:
    total = 0
    for i, char in enumerate(reversed(number)):
        d = int(char) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


@pytest.mark.parametrize("code", sorted({*ANALYTES, *OUTPUT_HOURS, HISTORY_OF_ALCOHOL_USE}))
def test_each_loinc_code_has_its_check_digit(code: str) -> None:
    number, _, digit = code.partition("-")
    assert digit and int(digit) == check_digit(number), code


def test_the_check_digit_of_known_codes() -> None:
    assert check_digit("2951") == 2 and check_digit("29463") == 7 and check_digit("2695") == 5
