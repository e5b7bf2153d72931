"""Tests for resolution.protocol.tnauthlist, cross-checked against pyasn1's RFC 8226 module."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyasn1.codec.der import decoder, encoder
from pyasn1_modules import rfc8226

from resolution.protocol.tnauthlist import (
    TN_AUTH_LIST_OID,
    TNAuthList,
    TNAuthListError,
    covers,
    decode_tn_auth_list,
    encode_tn_auth_list,
)

telephone_numbers = st.text(alphabet="0123456789#*", min_size=1, max_size=15)


def pyasn1_decode(der: bytes) -> list[tuple[str, Any]]:
    """Decode with pyasn1 and return ``(choice name, value)`` per TNEntry."""
    value, rest = decoder.decode(der, asn1Spec=rfc8226.TNAuthorizationList())
    assert rest == b""
    entries: list[tuple[str, Any]] = []
    for entry in value:
        name = entry.getName()
        component = entry.getComponent()
        if name == "range":
            entries.append((name, (str(component["start"]), int(component["count"]))))
        else:
            entries.append((name, str(component)))
    return entries


def pyasn1_encode(*entries: tuple[str, Any]) -> bytes:
    """Encode ``(choice name, value)`` entries with pyasn1; a range's value is (start, count)."""
    tn_list = rfc8226.TNAuthorizationList()
    for name, value in entries:
        entry = rfc8226.TNEntry()
        if name == "range":
            entry["range"]["start"] = value[0]
            entry["range"]["count"] = value[1]
        else:
            entry[name] = value
        tn_list.append(entry)
    der: bytes = encoder.encode(tn_list)
    return der


# Builders of hand-made DER for the malformed inputs below.


def tlv(tag: int, contents: bytes) -> bytes:
    """A DER element with a short-form length (all test elements here are under 128 bytes)."""
    assert len(contents) < 0x80
    return bytes([tag, len(contents)]) + contents


def seq(*elements: bytes) -> bytes:
    return tlv(0x30, b"".join(elements))


def ia5(text: bytes) -> bytes:
    return tlv(0x16, text)


def one(number: bytes = b"15551234567") -> bytes:
    return tlv(0xA2, ia5(number))


def range_entry(*components: bytes) -> bytes:
    return tlv(0xA1, seq(*components))


START = ia5(b"155500")
COUNT_5 = tlv(0x02, b"\x05")
ONE = one()  # a2 0d 16 0b "15551234567"


# --- encoding ---------------------------------------------------------------------------------


def test_oid() -> None:
    assert str(rfc8226.id_pe_TNAuthList) == TN_AUTH_LIST_OID


def test_encode_single_number() -> None:
    # SEQUENCE { [2] EXPLICIT IA5String "15551234567" }
    assert encode_tn_auth_list(["15551234567"]) == bytes.fromhex(
        "300fa20d160b" + b"15551234567".hex()
    )


def test_encode_matches_pyasn1_byte_for_byte() -> None:
    numbers = ["15551234567", "4930123456", "1", "123456789012345", "12#*"]
    der = encode_tn_auth_list(numbers)
    assert der == pyasn1_encode(*(("one", number) for number in numbers))


@pytest.mark.parametrize(
    ("count", "length_octets"),
    [
        pytest.param(7, "30 81 85", id="one-octet-long-form"),  # 7 * 19 = 133 bytes
        pytest.param(14, "30 82 01 0a", id="two-octet-long-form"),  # 14 * 19 = 266 bytes
        pytest.param(3500, "30 83 01 03 c4", id="three-octet-long-form"),  # 66500 bytes
    ],
)
def test_encode_long_form_lengths(count: int, length_octets: str) -> None:
    numbers = [f"{n:015d}" for n in range(count)]  # each entry is a2 11 16 0f <15 digits>: 19 bytes
    der = encode_tn_auth_list(numbers)
    assert der.startswith(bytes.fromhex(length_octets))
    assert der == pyasn1_encode(*(("one", number) for number in numbers))
    assert decode_tn_auth_list(der).numbers == tuple(numbers)


@pytest.mark.parametrize(
    ("last", "prefix"),
    [
        pytest.param("123456789", "30 7f", id="127-short-form"),
        pytest.param("1234567890", "30 81 80", id="128-long-form"),
    ],
)
def test_encode_length_boundary(last: str, prefix: str) -> None:
    # Six 19-byte entries and one of 13 or 14 bytes make contents of 127 or 128 bytes.
    numbers = ["1" * 15] * 6 + [last]
    der = encode_tn_auth_list(numbers)
    assert der.startswith(bytes.fromhex(prefix))
    assert len(der) == len(bytes.fromhex(prefix)) + 114 + 4 + len(last)
    assert der == pyasn1_encode(*(("one", number) for number in numbers))
    assert decode_tn_auth_list(der).numbers == tuple(numbers)


def test_round_trip() -> None:
    numbers = ["15551234567", "15551234568", "#31#", "*67"]
    decoded = decode_tn_auth_list(encode_tn_auth_list(numbers))
    assert decoded == TNAuthList(numbers=tuple(numbers))


def test_encode_accepts_any_sequence() -> None:
    assert encode_tn_auth_list(("15551234567",)) == encode_tn_auth_list(["15551234567"])


@pytest.mark.parametrize(
    "numbers",
    [
        pytest.param([], id="empty-list"),
        pytest.param("15551234567", id="bare-string"),
        pytest.param(b"15551234567", id="bare-bytes"),
        pytest.param([""], id="empty-number"),
        pytest.param(["1234567890123456"], id="sixteen-digits"),
        pytest.param(["+15551234567"], id="plus-prefix"),
        pytest.param(["1555 123"], id="space"),
        pytest.param(["1555-123"], id="hyphen"),
        pytest.param(["\u0661\u0662"], id="arabic-indic-digits"),
        pytest.param(["\ud800"], id="lone-surrogate"),
        pytest.param([15551234567], id="integer"),
        pytest.param(["15551234567", None], id="none-after-valid"),
    ],
)
def test_encode_rejects(numbers: Any) -> None:
    with pytest.raises(TNAuthListError):
        encode_tn_auth_list(numbers)


# --- cross-checks with pyasn1 -----------------------------------------------------------------


def test_pyasn1_decodes_ours() -> None:
    numbers = ["15551234567", "442079460000", "12#*"]
    assert pyasn1_decode(encode_tn_auth_list(numbers)) == [("one", n) for n in numbers]


def test_decode_pyasn1_one() -> None:
    der = pyasn1_encode(("one", "15551234567"))
    assert decode_tn_auth_list(der) == TNAuthList(numbers=("15551234567",))


def test_decode_pyasn1_range() -> None:
    der = pyasn1_encode(("range", ("15551230000", 10000)))
    assert decode_tn_auth_list(der) == TNAuthList(ranges=(("15551230000", 10000),))


def test_decode_pyasn1_spc() -> None:
    der = pyasn1_encode(("spc", "709J"))
    assert der == bytes.fromhex("3008a00616043730394a")  # explicit [0] IA5String
    assert decode_tn_auth_list(der) == TNAuthList(spcs=("709J",))


def test_decode_pyasn1_mixed_keeps_order_within_kinds() -> None:
    der = pyasn1_encode(
        ("spc", "709J"),
        ("one", "15551234567"),
        ("range", ("15550000000", 2)),
        ("one", "15557654321"),
        ("spc", "0123"),
        ("range", ("4930000", 128)),
    )
    assert decode_tn_auth_list(der) == TNAuthList(
        numbers=("15551234567", "15557654321"),
        ranges=(("15550000000", 2), ("4930000", 128)),
        spcs=("709J", "0123"),
    )


@pytest.mark.parametrize(
    "count",
    [127, 128, 255, 256, 32767, 32768, 2**63, 10**40],
    ids=lambda count: f"count-{count}",
)
def test_decode_pyasn1_range_counts(count: int) -> None:
    # Counts whose INTEGER encoding needs a leading zero octet (128, 255, 32768, 2**63) too.
    der = pyasn1_encode(("range", ("1", count)))
    assert decode_tn_auth_list(der).ranges == (("1", count),)


def test_decode_pyasn1_long_spc() -> None:
    spc = "SPC-" + "x" * 300  # long-form lengths at three levels
    der = pyasn1_encode(("spc", spc))
    assert decode_tn_auth_list(der).spcs == (spc,)


def test_decode_accepts_bytearray_and_memoryview() -> None:
    # Typed as bytes, but a buffer handed over by a socket or a database driver works too.
    der = encode_tn_auth_list(["15551234567"])
    assert decode_tn_auth_list(bytearray(der)) == decode_tn_auth_list(der)  # type: ignore[arg-type]
    assert decode_tn_auth_list(memoryview(der)) == decode_tn_auth_list(der)  # type: ignore[arg-type]


def test_decode_skips_range_extension_additions() -> None:
    # TelephoneNumberRange ends in "...": a later version's components are skipped, here a
    # primitive [0], and a high-tag-number [APPLICATION 32] element.
    der = seq(range_entry(ia5(b"1"), COUNT_5, bytes.fromhex("8001ff"), bytes.fromhex("5f200100")))
    assert der.hex() == "3011a10f300d1601310201058001ff5f200100"
    assert decode_tn_auth_list(der) == TNAuthList(ranges=(("1", 5),))


# --- malformed DER ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("der", "match"),
    [
        # framing of the outer SEQUENCE
        pytest.param(b"", "identifier octet missing", id="empty-input"),
        pytest.param(b"\x30", "length octet missing", id="tag-only"),
        pytest.param(seq(ONE) + b"\x00", "1 trailing bytes", id="trailing-byte"),
        pytest.param(seq(ONE) + seq(ONE), "trailing bytes", id="two-lists"),
        pytest.param(tlv(0x31, ONE), "tag 0x31", id="set-not-sequence"),
        pytest.param(tlv(0x10, ONE), "tag 0x10", id="sequence-primitive"),
        pytest.param(tlv(0xA2, ia5(b"1")), "tag 0xa2", id="bare-entry"),
        pytest.param(seq(), "is empty", id="empty-sequence"),
        pytest.param(b"\x30\x80" + ONE + b"\x00\x00", "indefinite", id="indefinite-length"),
        pytest.param(b"\x30\x10" + ONE, "runs past", id="length-too-long"),
        pytest.param(b"\x30\x0e" + ONE, "1 trailing bytes", id="length-too-short"),
        pytest.param(b"\x30\x81\x0f" + ONE, "short form", id="long-form-below-128"),
        pytest.param(b"\x30\x82\x00\x0f" + ONE, "leading zero", id="long-form-leading-zero"),
        pytest.param(b"\x30\xff" + ONE, "reserved", id="length-octet-0xff"),
        pytest.param(b"\x30\x82\x01", "inside a long-form", id="long-form-truncated"),
        pytest.param(b"\x30\x88" + b"\xff" * 8 + ONE, "runs past", id="length-huge"),
        pytest.param(b"\x3f\x1f\x0f" + ONE, "tag 0x3f", id="high-tag-number"),
        # the TNEntry CHOICE
        pytest.param(seq(tlv(0x82, b"15551234567")), "tag 0x82", id="implicit-one"),
        pytest.param(seq(tlv(0x82, ia5(b"1"))), "tag 0x82", id="primitive-explicit-one"),
        pytest.param(seq(tlv(0x80, b"709J")), "tag 0x80", id="implicit-spc"),
        pytest.param(seq(tlv(0xA3, ia5(b"1"))), "tag 0xa3", id="unknown-context-tag-3"),
        pytest.param(seq(ia5(b"15551234567")), "tag 0x16", id="untagged-ia5string"),
        pytest.param(
            b"\x30\x11\xa2\x80" + ia5(b"15551234567") + b"\x00\x00",
            "indefinite",
            id="entry-indefinite-length",
        ),
        pytest.param(
            b"\x30\x10\xa2\x81\x0d" + ia5(b"15551234567"), "short form", id="entry-long-form"
        ),
        pytest.param(seq(b"\xa2\x0e" + ia5(b"15551234567")), "runs past", id="entry-overrun"),
        # one [2] TelephoneNumber
        pytest.param(seq(tlv(0xA2, tlv(0x0C, b"1555"))), "tag 0x0c", id="one-utf8string"),
        pytest.param(seq(tlv(0xA2, tlv(0x13, b"1555"))), "tag 0x13", id="one-printable"),
        pytest.param(
            seq(tlv(0xA2, tlv(0x36, ia5(b"1555")))), "tag 0x36", id="one-constructed-ia5string"
        ),
        pytest.param(
            seq(tlv(0xA2, ia5(b"1555") + ia5(b"1556"))), "trailing bytes", id="one-two-strings"
        ),
        pytest.param(seq(tlv(0xA2, b"")), "identifier octet missing", id="one-empty-tag"),
        pytest.param(seq(one(b"")), "not 1 to 15", id="one-empty-number"),
        pytest.param(seq(one(b"1234567890123456")), "not 1 to 15", id="one-sixteen-digits"),
        pytest.param(seq(one(b"+15551234567")), "not 1 to 15", id="one-plus-prefix"),
        pytest.param(seq(one(b"1 2")), "not 1 to 15", id="one-space"),
        pytest.param(seq(one(b"1\xb12")), "not 1 to 15", id="one-high-bit-byte"),
        pytest.param(seq(one(b"1\x002")), "not 1 to 15", id="one-nul-byte"),
        pytest.param(seq(tlv(0xA2, b"\x16\x0c15551234567")), "runs past", id="one-ia5-overrun"),
        # spc [0] ServiceProviderCode
        pytest.param(seq(tlv(0xA0, ia5(b"709\xca"))), "not an IA5String", id="spc-non-ascii"),
        pytest.param(seq(tlv(0xA0, tlv(0x0C, b"709J"))), "tag 0x0c", id="spc-utf8string"),
        pytest.param(seq(tlv(0xA0, ia5(b"709J") + b"\x00")), "trailing", id="spc-trailing"),
        # range [1] TelephoneNumberRange
        pytest.param(seq(tlv(0x81, seq(START, COUNT_5))), "tag 0x81", id="range-primitive-tag"),
        pytest.param(seq(tlv(0xA1, START + COUNT_5)), "tag 0x16", id="range-no-sequence"),
        pytest.param(
            seq(tlv(0xA1, tlv(0x31, START + COUNT_5))), "tag 0x31", id="range-set-not-sequence"
        ),
        pytest.param(
            seq(tlv(0xA1, seq(START, COUNT_5) + b"\x05\x00")), "trailing", id="range-trailing"
        ),
        pytest.param(seq(range_entry()), "identifier octet missing", id="range-empty-sequence"),
        pytest.param(seq(range_entry(START)), "no count", id="range-count-missing"),
        pytest.param(
            seq(range_entry(COUNT_5, START)), "start has tag 0x02", id="range-count-first"
        ),
        pytest.param(seq(range_entry(ia5(b""), COUNT_5)), "not 1 to 15", id="range-start-empty"),
        pytest.param(
            seq(range_entry(ia5(b"1234567890123456"), COUNT_5)),
            "not 1 to 15",
            id="range-start-sixteen-digits",
        ),
        pytest.param(
            seq(range_entry(ia5(b"+1555"), COUNT_5)), "not 1 to 15", id="range-start-plus"
        ),
        pytest.param(
            seq(range_entry(tlv(0x0C, b"1555"), COUNT_5)), "start has tag 0x0c", id="range-utf8"
        ),
        pytest.param(
            seq(range_entry(START, tlv(0x04, b"\x05"))),
            "count has tag 0x04",
            id="range-count-bytes",
        ),
        pytest.param(
            seq(range_entry(START, tlv(0x01, b"\xff"))), "count has tag 0x01", id="range-count-bool"
        ),
        pytest.param(
            seq(range_entry(START, tlv(0x02, b""))), "no contents", id="range-count-empty"
        ),
        pytest.param(seq(range_entry(START, tlv(0x02, b"\x01"))), "below 2", id="range-count-one"),
        pytest.param(seq(range_entry(START, tlv(0x02, b"\x00"))), "below 2", id="range-count-zero"),
        pytest.param(
            seq(range_entry(START, tlv(0x02, b"\xfe"))), "below 2", id="range-count-negative"
        ),
        pytest.param(
            seq(range_entry(START, tlv(0x02, b"\x80\x00"))),
            "below 2",
            id="range-count-large-negative",
        ),
        pytest.param(
            seq(range_entry(START, tlv(0x02, b"\x00\x05"))),
            "minimally",
            id="range-count-leading-zero",
        ),
        pytest.param(
            seq(range_entry(START, tlv(0x02, b"\xff\x80"))),
            "minimally",
            id="range-count-leading-ff",
        ),
        # extension additions after count must still be DER
        pytest.param(
            seq(range_entry(START, COUNT_5, b"\xa0\x80\x00\x00")),
            "indefinite",
            id="range-extension-indefinite",
        ),
        pytest.param(
            seq(range_entry(START, COUNT_5, b"\x00\x00")),
            "end-of-contents",
            id="range-extension-end-of-contents",
        ),
        pytest.param(
            seq(range_entry(START, COUNT_5, b"\x80\x05")), "runs past", id="range-extension-overrun"
        ),
        pytest.param(
            seq(range_entry(START, COUNT_5, b"\x5f\x1e\x00")),
            "not minimally",
            id="range-extension-high-tag-below-31",
        ),
        pytest.param(
            seq(range_entry(START, COUNT_5, b"\x5f\x80\x1f\x00")),
            "not minimally",
            id="range-extension-high-tag-leading-0x80",
        ),
        pytest.param(
            seq(range_entry(START, COUNT_5, b"\x5f\x81")),
            "truncated inside a high tag",
            id="range-extension-high-tag-truncated",
        ),
    ],
)
def test_decode_rejects(der: bytes, match: str) -> None:
    with pytest.raises(TNAuthListError, match=match):
        decode_tn_auth_list(der)


@pytest.mark.parametrize("not_bytes", ["300f", None, 12, ["30", "0f"]], ids=repr)
def test_decode_rejects_non_bytes(not_bytes: Any) -> None:
    with pytest.raises(TNAuthListError):
        decode_tn_auth_list(not_bytes)


# --- covers -----------------------------------------------------------------------------------

TN_LIST = TNAuthList(
    numbers=("15551234567", "12#"),
    ranges=(("15550001000", 100), ("0099", 2), ("1*00", 50), ("999", 5)),
    spcs=("709J",),
)


@pytest.mark.parametrize(
    ("number", "covered"),
    [
        pytest.param("15551234567", True, id="one-entry"),
        pytest.param("15551234568", False, id="next-to-one-entry"),
        pytest.param("12#", True, id="one-entry-with-hash"),
        pytest.param("15550001000", True, id="range-start"),
        pytest.param("15550001099", True, id="range-last"),
        pytest.param("15550001100", False, id="range-end-is-exclusive"),
        pytest.param("15550000999", False, id="range-before-start"),
        pytest.param("0099", True, id="range-leading-zeros-start"),
        pytest.param("0100", True, id="range-leading-zeros-carry"),
        pytest.param("0101", False, id="range-leading-zeros-after"),
        pytest.param("99", False, id="range-shorter-number-same-value"),
        pytest.param("100", False, id="shorter-number"),
        pytest.param("999", True, id="range-start-3-digits"),
        pytest.param("1000", False, id="range-overflowing-length-not-covered"),
        pytest.param("1003", False, id="range-overflow-value-different-length"),
        pytest.param("1*00", False, id="range-start-with-star-covers-nothing"),
        pytest.param("1*01", False, id="inside-range-with-star"),
        pytest.param("709", False, id="spc-prefix"),
    ],
)
def test_covers(number: str, covered: bool) -> None:
    assert covers(TN_LIST, number) is covered


@pytest.mark.parametrize(
    "number", ["+15551234567", "", "1234567890123456", "1555 1234567", "\u0661"], ids=repr
)
def test_covers_rejects_malformed_numbers(number: str) -> None:
    with pytest.raises(TNAuthListError):
        covers(TN_LIST, number)


def test_covers_decoded_range() -> None:
    tn_list = decode_tn_auth_list(pyasn1_encode(("range", ("15550000000", 10**6))))
    assert covers(tn_list, "15550999999")
    assert not covers(tn_list, "15551000000")


def test_spc_only_list_covers_nothing() -> None:
    tn_list = decode_tn_auth_list(pyasn1_encode(("spc", "15551234567")))
    assert not covers(tn_list, "15551234567")


# --- properties -------------------------------------------------------------------------------


@given(st.lists(telephone_numbers, min_size=1, max_size=40))
def test_round_trip_property(numbers: list[str]) -> None:
    der = encode_tn_auth_list(numbers)
    decoded = decode_tn_auth_list(der)
    assert decoded == TNAuthList(numbers=tuple(numbers))
    assert pyasn1_decode(der) == [("one", n) for n in numbers]
    assert all(covers(decoded, number) for number in numbers)


@given(st.binary(max_size=300))
def test_decode_arbitrary_bytes_raises_only_tn_auth_list_error(data: bytes) -> None:
    with contextlib.suppress(TNAuthListError):
        decode_tn_auth_list(data)


@st.composite
def mutated_der(draw: st.DrawFn) -> bytes:
    """Valid DER (mixed entry kinds) with a few bytes replaced, inserted or deleted."""
    entries = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("one"), telephone_numbers),
                st.tuples(st.just("spc"), st.text(alphabet="0123456789ABCXYZ", max_size=140)),
                st.tuples(
                    st.just("range"),
                    st.tuples(telephone_numbers, st.integers(min_value=2, max_value=2**70)),
                ),
            ),
            min_size=1,
            max_size=5,
        )
    )
    data = bytearray(pyasn1_encode(*entries))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        position = draw(st.integers(min_value=0, max_value=len(data)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.integers(min_value=0, max_value=255))
        if action == "insert":
            data.insert(position, byte)
        elif position < len(data):
            if action == "replace":
                data[position] = byte
            else:
                del data[position]
    return bytes(data)


@given(mutated_der())
def test_decode_mutated_der_raises_only_tn_auth_list_error(data: bytes) -> None:
    try:
        decoded = decode_tn_auth_list(data)
    except TNAuthListError:
        return
    # Whatever we accept, pyasn1 reads the same (extension additions aside, which we skip).
    try:
        theirs = pyasn1_decode(data)
    except Exception:  # pyasn1 rejects an extension addition that we skip
        return
    assert [value for name, value in theirs if name == "one"] == list(decoded.numbers)
    assert [value for name, value in theirs if name == "spc"] == list(decoded.spcs)
    assert [value for name, value in theirs if name == "range"] == list(decoded.ranges)
