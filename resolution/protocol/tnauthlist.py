"""The TNAuthList certificate extension of RFC 8226, encoded and decoded as DER by hand.

A number certificate names the telephone numbers it speaks for in a TNAuthList extension
(``id-pe-TNAuthList``, OID 1.3.6.1.5.5.7.1.26).  Its value, the contents of the extension's
``extnValue`` OCTET STRING, is the DER encoding of (RFC 8226 §9)::

    TNAuthorizationList ::= SEQUENCE SIZE (1..MAX) OF TNEntry

    TNEntry ::= CHOICE {
      spc   [0] ServiceProviderCode,
      range [1] TelephoneNumberRange,
      one   [2] TelephoneNumber
      }

    ServiceProviderCode ::= IA5String

    TelephoneNumberRange ::= SEQUENCE {
      start TelephoneNumber,
      count INTEGER (2..MAX),
      ...
      }

    TelephoneNumber ::= IA5String (SIZE (1..15)) (FROM ("0123456789#*"))

The ASN.1 module of RFC 8226 (Appendix A) is ``DEFINITIONS EXPLICIT TAGS``, so every
``TNEntry`` is a constructed context-specific element wrapping the whole universal element:
``one`` is ``A2 len 16 len <digits>``, ``spc`` is ``A0 len 16 len <code>`` and ``range`` is
``A1 len 30 len (16 ...) (02 ...)``.  Implicitly tagged entries (``82 len <digits>``) are not
TNAuthLists and are rejected.

The decoder reads DER only (X.690 §10): definite, minimal lengths; primitive strings; minimal
integers; nothing after the outer SEQUENCE.  Unknown extension additions after ``count`` (the
``...`` of ``TelephoneNumberRange``) are skipped if they are well-formed, as the extension
marker requires of a decoder of this version.  Every failure raises ``TNAuthListError``.

``encode_tn_auth_list`` writes only ``one`` entries: the numbers this service certifies are
E.164 numbers in the canonical form of RFC 8224 §8.3 (digits only, no "+").  With
``cryptography`` the value goes into a certificate as
``x509.UnrecognizedExtension(x509.ObjectIdentifier(TN_AUTH_LIST_OID), der)``.

Public API: ``TN_AUTH_LIST_OID``, ``TNAuthListError``, ``TNAuthList``,
``encode_tn_auth_list``, ``decode_tn_auth_list``, ``covers``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

TN_AUTH_LIST_OID: Final = "1.3.6.1.5.5.7.1.26"
"""``id-pe-TNAuthList`` ::= { id-pe 26 } (RFC 8226 §9)."""

# Identifier octets (X.690 §8.1.2): universal types, and the explicit context tags of TNEntry,
# which are constructed because explicit tagging wraps a whole element (X.690 §8.14).
_INTEGER: Final = 0x02
_IA5_STRING: Final = 0x16  # primitive: DER never uses the constructed form (X.690 §10.2)
_SEQUENCE: Final = 0x30
_TAG_SPC: Final = 0xA0  # [0] ServiceProviderCode
_TAG_RANGE: Final = 0xA1  # [1] TelephoneNumberRange
_TAG_ONE: Final = 0xA2  # [2] TelephoneNumber

_TELEPHONE_NUMBER_ALPHABET: Final = frozenset(b"0123456789#*")
_TELEPHONE_NUMBER_MAX_LENGTH: Final = 15
_DIGITS: Final = frozenset("0123456789")
_MIN_RANGE_COUNT: Final = 2  # count INTEGER (2..MAX)


class TNAuthListError(ValueError):
    """A TNAuthList cannot be encoded, is not valid DER, or a telephone number is malformed."""


@dataclass(frozen=True)
class TNAuthList:
    """The entries of a decoded TNAuthorizationList, grouped by kind, each in document order.

    ``numbers`` holds the ``one`` entries, ``ranges`` the ``range`` entries as
    ``(start, count)`` and ``spcs`` the ``spc`` entries (service provider codes).
    """

    numbers: tuple[str, ...] = ()
    ranges: tuple[tuple[str, int], ...] = ()
    spcs: tuple[str, ...] = ()


def _is_telephone_number(value: bytes) -> bool:
    # TelephoneNumber ::= IA5String (SIZE (1..15)) (FROM ("0123456789#*")) (RFC 8226 §9)
    return 1 <= len(
        value
    ) <= _TELEPHONE_NUMBER_MAX_LENGTH and _TELEPHONE_NUMBER_ALPHABET.issuperset(value)


def _telephone_number_bytes(number: object) -> bytes:
    if not isinstance(number, str):
        raise TNAuthListError(f"telephone number {number!r} is not a string")
    encoded = number.encode("ascii", errors="replace")  # "?" is outside the alphabet
    if not _is_telephone_number(encoded):
        raise TNAuthListError(
            f"telephone number {number!r} is not 1 to 15 characters of 0-9, '#' and '*'"
        )
    return encoded


# --- encoding ---------------------------------------------------------------------------------


def _der_length(length: int) -> bytes:
    # X.690 §8.1.3.4: short form below 128; §8.1.3.5: long form, a count of length octets then
    # the length in base 256; §10.1: DER always uses the fewest octets possible.
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _der_element(tag: int, contents: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(contents)) + contents


def encode_tn_auth_list(numbers: Sequence[str], ranges: Sequence[tuple[str, int]] = ()) -> bytes:
    """Return the DER TNAuthorizationList with one ``one`` entry per number, in order, then
    one ``range`` entry per ``(start, count)`` (the ranges of a range certificate: an RS's
    advertisement is signed with one).

    Each number is 1 to 15 characters of ``0123456789#*`` (RFC 8226 §9); this service's
    numbers are E.164 digits without "+" (RFC 8224 §8.3); a range's count is at least 2.
    Raises ``TNAuthListError`` for an empty list (the SEQUENCE is SIZE (1..MAX)), a bare
    string, a malformed number or a count below 2.
    """
    # A str is itself a Sequence[str]: "15551234567" would become eleven one-digit entries.
    if isinstance(numbers, (str, bytes, bytearray)):
        raise TNAuthListError("numbers must be a sequence of strings, not a single string")
    if not numbers and not ranges:
        raise TNAuthListError("a TNAuthorizationList holds at least one entry")
    entries = b"".join(
        _der_element(_TAG_ONE, _der_element(_IA5_STRING, _telephone_number_bytes(number)))
        for number in numbers
    )
    for start, count in ranges:
        if not isinstance(count, int) or isinstance(count, bool) or count < 2:
            raise TNAuthListError(f"range count {count!r} is not an integer of at least 2")
        body = _der_element(_IA5_STRING, _telephone_number_bytes(start)) + _der_element(
            _INTEGER, count.to_bytes(count.bit_length() // 8 + 1, "big")
        )
        entries += _der_element(_TAG_RANGE, _der_element(_SEQUENCE, body))
    return _der_element(_SEQUENCE, entries)


# --- decoding ---------------------------------------------------------------------------------


def _read_identifier(data: bytes, offset: int) -> tuple[int, int]:
    """Return the first identifier octet and the offset after the identifier (X.690 §8.1.2)."""
    if offset >= len(data):
        raise TNAuthListError("DER truncated: identifier octet missing")
    tag = data[offset]
    offset += 1
    if tag & 0x1F != 0x1F:
        return tag, offset
    # X.690 §8.1.2.4: high tag numbers (31 and up) follow in base 128, bit 8 set on all but
    # the last octet; the first subsequent octet is not 0x80 and the number is at least 31.
    first = offset
    while True:
        if offset >= len(data):
            raise TNAuthListError("DER truncated inside a high tag number")
        octet = data[offset]
        offset += 1
        if octet & 0x80 == 0:
            break
    if data[first] == 0x80 or (offset - first == 1 and data[first] < 0x1F):
        raise TNAuthListError("DER high tag number is not minimally encoded")
    return tag, offset


def _read_length(data: bytes, offset: int) -> tuple[int, int]:
    """Return a DER length and the offset after the length octets (X.690 §8.1.3, §10.1)."""
    if offset >= len(data):
        raise TNAuthListError("DER truncated: length octet missing")
    first = data[offset]
    offset += 1
    if first < 0x80:  # short form (X.690 §8.1.3.4)
        return first, offset
    if first == 0x80:  # X.690 §10.1: DER never uses the indefinite form
        raise TNAuthListError("DER forbids indefinite lengths")
    if first == 0xFF:  # X.690 §8.1.3.5 c): reserved
        raise TNAuthListError("DER length octet 0xFF is reserved")
    count = first & 0x7F
    if offset + count > len(data):
        raise TNAuthListError("DER truncated inside a long-form length")
    octets = data[offset : offset + count]
    # X.690 §10.1: the fewest octets, so no leading zero and no long form below 128.
    if octets[0] == 0:
        raise TNAuthListError("DER long-form length has a leading zero octet")
    length = int.from_bytes(octets, "big")
    if length < 0x80:
        raise TNAuthListError("DER long-form length below 128 must use the short form")
    return length, offset + count


def _read_element(data: bytes, offset: int) -> tuple[int, bytes, int]:
    """Return the identifier octet, the contents and the offset after one DER element."""
    tag, offset = _read_identifier(data, offset)
    length, offset = _read_length(data, offset)
    end = offset + length
    if end > len(data):
        raise TNAuthListError(
            f"DER element of {length} bytes runs past the end of its {len(data)}-byte container"
        )
    return tag, data[offset:end], end


def _read_single(data: bytes, tag: int, what: str) -> bytes:
    """Return the contents of the one element of ``data``, which must carry ``tag``."""
    found, contents, end = _read_element(data, 0)
    if found != tag:
        raise TNAuthListError(f"{what} has tag 0x{found:02x}, want 0x{tag:02x}")
    if end != len(data):
        raise TNAuthListError(f"{len(data) - end} trailing bytes after {what}")
    return contents


def _decode_telephone_number(explicit_contents: bytes, what: str) -> str:
    value = _read_single(explicit_contents, _IA5_STRING, what)
    if not _is_telephone_number(value):
        raise TNAuthListError(
            f"{what} {value!r} is not 1 to 15 characters of 0-9, '#' and '*' (RFC 8226 §9)"
        )
    return value.decode("ascii")


def _decode_count(contents: bytes) -> int:
    # X.690 §8.3.2: at least one octet, and the first nine bits are neither all 0 nor all 1.
    if not contents:
        raise TNAuthListError("range count INTEGER has no contents octets")
    if len(contents) > 1 and (
        (contents[0] == 0x00 and contents[1] < 0x80)
        or (contents[0] == 0xFF and contents[1] >= 0x80)
    ):
        raise TNAuthListError("range count INTEGER is not minimally encoded")
    count = int.from_bytes(contents, "big", signed=True)
    if count < _MIN_RANGE_COUNT:  # count INTEGER (2..MAX) (RFC 8226 §9)
        raise TNAuthListError(f"range count {count} is below {_MIN_RANGE_COUNT}")
    return count


def _decode_range(explicit_contents: bytes) -> tuple[str, int]:
    sequence = _read_single(explicit_contents, _SEQUENCE, "range")
    tag, start_contents, offset = _read_element(sequence, 0)
    if tag != _IA5_STRING:
        raise TNAuthListError(f"range start has tag 0x{tag:02x}, want IA5String")
    if not _is_telephone_number(start_contents):
        raise TNAuthListError(
            f"range start {start_contents!r} is not 1 to 15 characters of 0-9, '#' and '*'"
        )
    if offset == len(sequence):
        raise TNAuthListError("range has no count")
    tag, count_contents, offset = _read_element(sequence, offset)
    if tag != _INTEGER:
        raise TNAuthListError(f"range count has tag 0x{tag:02x}, want INTEGER")
    count = _decode_count(count_contents)
    # The "..." of TelephoneNumberRange (RFC 8226 §9): a later version may add components,
    # which this version skips; they must still be well-formed DER elements.
    while offset < len(sequence):
        tag, _, offset = _read_element(sequence, offset)
        if tag == 0x00:
            raise TNAuthListError("end-of-contents octets are not DER")
    return start_contents.decode("ascii"), count


def _decode_service_provider_code(explicit_contents: bytes) -> str:
    value = _read_single(explicit_contents, _IA5_STRING, "spc")
    # ServiceProviderCode ::= IA5String: the characters of ISO 646, one octet each, 0-127.
    if not value.isascii():
        raise TNAuthListError(f"spc {value!r} is not an IA5String")
    return value.decode("ascii")


def decode_tn_auth_list(der: bytes) -> TNAuthList:
    """Decode a DER TNAuthorizationList (RFC 8226 §9), the contents of a TNAuthList extension.

    Raises ``TNAuthListError``, and nothing else, for any input that is not exactly one
    DER-encoded, non-empty TNAuthorizationList.
    """
    if not isinstance(der, (bytes, bytearray, memoryview)):
        raise TNAuthListError(f"DER must be bytes, not {type(der).__name__}")
    data = bytes(der)
    entries = _read_single(data, _SEQUENCE, "TNAuthorizationList")
    if not entries:  # SEQUENCE SIZE (1..MAX) OF TNEntry
        raise TNAuthListError("TNAuthorizationList is empty")
    numbers: list[str] = []
    ranges: list[tuple[str, int]] = []
    spcs: list[str] = []
    offset = 0
    while offset < len(entries):
        tag, contents, offset = _read_element(entries, offset)
        if tag == _TAG_ONE:
            numbers.append(_decode_telephone_number(contents, "one"))
        elif tag == _TAG_RANGE:
            ranges.append(_decode_range(contents))
        elif tag == _TAG_SPC:
            spcs.append(_decode_service_provider_code(contents))
        else:
            raise TNAuthListError(
                f"TNEntry has tag 0x{tag:02x}, want 0xa0 (spc), 0xa1 (range) or 0xa2 (one)"
            )
    return TNAuthList(numbers=tuple(numbers), ranges=tuple(ranges), spcs=tuple(spcs))


# --- authorisation ----------------------------------------------------------------------------


def covers(tn_auth_list: TNAuthList, number: str) -> bool:
    """Return whether ``tn_auth_list`` authorises the telephone number ``number``.

    ``number`` is in the canonical form of RFC 8224 §8.3 (digits, no "+").  It is covered when
    it equals a ``one`` entry, or when it has the length of a range's ``start`` and its
    numeric value lies in ``[start, start + count)``; a range whose ``start`` holds "#" or
    "*" has no numeric value and covers nothing.  Service provider codes name no numbers and
    cover none.  Raises
    ``TNAuthListError`` when ``number`` is not a TelephoneNumber (a "+" prefix, say), since
    answering False would hide the caller's mistake.
    """
    _telephone_number_bytes(number)
    if number in tn_auth_list.numbers:
        return True
    if not _DIGITS.issuperset(number):
        return False
    value = int(number)
    return any(
        len(start) == len(number)
        and _DIGITS.issuperset(start)
        and int(start) <= value < int(start) + count
        for start, count in tn_auth_list.ranges
    )
