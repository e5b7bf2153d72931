"""core.numbers: what the API accepts as a number, and agreement with phonenumbers' own checks."""

from __future__ import annotations

from collections.abc import Iterator

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat

from core.numbers import (
    NumberInvalid,
    NumberMalformed,
    NumberNotMobile,
    mobile_number_parse,
    number_parse,
)


def _numbers_of_every_plan() -> Iterator[str]:
    """Each region's example number of each type, and two neighbours that may not be valid."""
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(12):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            code, national = example.country_code, example.national_number
            assert code is not None and national is not None
            for number in (national, national + 1, national // 10):
                yield f"+{code}{number}"


def test_validity_type_and_region_agree_with_phonenumbers():
    checked = invalid = 0
    for text in _numbers_of_every_plan():
        parsed = phonenumbers.parse(text, None)
        try:
            number = number_parse(text)
        except NumberInvalid:
            assert not phonenumbers.is_valid_number(parsed), text
            invalid += 1
        else:
            assert phonenumbers.is_valid_number(parsed), text
            assert number.kind == phonenumbers.number_type(parsed), text
            assert number.region == (phonenumbers.region_code_for_number(parsed) or ""), text
            assert number.e164 == phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
        checked += 1
    assert checked > 3000 and 0 < invalid < checked  # both outcomes were exercised


def test_spellings_of_one_number_parse_alike():
    assert number_parse(" +33 6 12 34 56 78 ").e164 == "+33612345678"
    assert number_parse("+33-612-345-678") == number_parse("+33612345678")


@pytest.mark.parametrize(
    "text",
    ["0612345678", "", "+", "+abc", "+33 6 12 34 56 78 90 12 34 56 78 90 1", None, ["+336"], 336],
)
def test_what_is_not_an_international_number_is_malformed(text):
    with pytest.raises(NumberMalformed):
        number_parse(text)


def test_a_number_outside_its_plan_is_invalid_every_time():
    for _ in range(2):  # a problem is raised again, never remembered as a result
        with pytest.raises(NumberInvalid):
            number_parse("+3361234567")


def test_a_fixed_line_cannot_receive_the_sms():
    with pytest.raises(NumberNotMobile):
        mobile_number_parse("+33140000000")
    assert mobile_number_parse("+33612345678").region == "FR"
