"""Phone numbers: parsing API input into E.164 with ``phonenumbers`` (DESIGN §4.1).

The API takes numbers only in international form with a leading ``+``; a national form such as
``0612345678`` is ambiguous without a country and is refused rather than guessed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from core.problems import Problem

# "+" and 15 digits (ITU-T E.164) with room for spaces or dashes a person may type.
MAX_INPUT_LENGTH = 32
# Types that can receive an SMS. Many countries (the US among them) do not tell mobile and
# fixed-line ranges apart; phonenumbers reports those as FIXED_LINE_OR_MOBILE.
SMS_CAPABLE_TYPES: frozenset[int] = frozenset(
    {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


class NumberMalformed(Problem):
    slug = "number-malformed"
    title = "Not a phone number in E.164 form"
    status_code = 400


class NumberInvalid(Problem):
    slug = "number-invalid"
    title = "Not a valid phone number"
    status_code = 400


class NumberNotMobile(Problem):
    slug = "number-not-mobile"
    title = "Not a number that can receive SMS"
    status_code = 400


@dataclass(frozen=True)
class PhoneNumber:
    """A valid number: ``e164`` is ``+`` and digits; ``region`` an ISO 3166 code like ``FR``."""

    e164: str
    region: str
    calling_code: int
    kind: int  # a phonenumbers.PhoneNumberType constant

    @property
    def digits(self) -> str:
        """The RFC 8224 §8.3 canonical form used in TNAuthList and PASSporT ``tn`` claims."""
        return self.e164[1:]


def number_parse(text: str) -> PhoneNumber:
    """Parse a number given in international form; raise a 400 problem saying what is wrong."""
    if not isinstance(text, str) or len(text) > MAX_INPUT_LENGTH:
        raise NumberMalformed(f"Give the number as '+' and at most 15 digits ({MAX_INPUT_LENGTH}).")
    return _number_parse(text)


# A lookup parses its number twice (the distinct-numbers throttle, then the view) and a change
# more often; parsing costs tens of microseconds, a hit here well under one. Only valid numbers
# are remembered (a problem raised is not), at most PARSED_CACHE_SIZE of them per process.
PARSED_CACHE_SIZE = 4096


@functools.lru_cache(maxsize=PARSED_CACHE_SIZE)
def _number_parse(text: str) -> PhoneNumber:
    text = text.strip()
    if not text.startswith("+"):
        raise NumberMalformed(
            "Give the number in international form with its country code, like +33612345678."
        )
    try:
        parsed = phonenumbers.parse(text, None)
    except NumberParseException as error:
        raise NumberMalformed(f"Not a phone number: {error._msg}") from None
    # A number is valid exactly when its region's plan gives it a type: is_valid_number would
    # find the region and the type again (tests/core/test_numbers.py checks they agree).
    kind = phonenumbers.number_type(parsed)
    if kind == PhoneNumberType.UNKNOWN:
        raise NumberInvalid(
            "No such number in its country's numbering plan (short codes are not accepted)."
        )
    return PhoneNumber(
        e164=phonenumbers.format_number(parsed, PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(parsed) or "",
        calling_code=int(parsed.country_code or 0),
        kind=kind,
    )


def mobile_number_parse(text: str) -> PhoneNumber:
    """Parse a number that must be able to receive an SMS (mobile-capable)."""
    number = number_parse(text)
    if number.kind not in SMS_CAPABLE_TYPES:
        raise NumberNotMobile("This number cannot receive SMS (it is not a mobile number).")
    return number
