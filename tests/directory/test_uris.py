"""Tests for resolution.protocol.directory: the service table, RFC examples that pass, and each
refusal.

Valid URIs come from the RFCs' own examples where they have some: RFC 3261 §19.1.3 (SIP), RFC 3966
§6 (tel), RFC 5122 §2 (XMPP) and RFC 3860 §3.2 (IM). Property tests check that arbitrary text is
either accepted as a bounded, printable, stable URI or refused with a UriError, never anything
else.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolution.protocol.directory import (
    MAX_URI_LENGTH,
    SERVICES,
    Service,
    ServiceError,
    UriError,
    service_parse,
    uri_validate,
)

PROPERTY = settings(database=None, deadline=None, max_examples=400)
PRINTABLE_ASCII = frozenset(chr(code) for code in range(0x21, 0x7F))


def refusal(service: str, uri: str) -> str:
    with pytest.raises(UriError) as refused:
        uri_validate(service, uri)
    return str(refused.value)


# The vocabulary


def test_each_service_accepts_the_documented_schemes() -> None:
    assert dict(SERVICES) == {
        Service.VOICE: ("sip", "sips", "tel", "https"),
        Service.VIDEO: ("sip", "sips", "https"),
        Service.MESSAGING: ("sip", "sips", "https", "xmpp", "im"),
        Service.SIP: ("sip", "sips"),
        Service.SMS: ("tel",),
        Service.IM: ("im",),
        Service.XMPP: ("xmpp",),
        Service.WEB: ("https",),
    }
    assert list(SERVICES) == list(Service)


@pytest.mark.parametrize("name", ["voice", "video", "messaging", "sip", "sms", "im", "xmpp", "web"])
def test_a_service_is_parsed_by_its_name(name: str) -> None:
    assert service_parse(name) == name
    assert service_parse(service_parse(name)) is service_parse(name)


@pytest.mark.parametrize("name", ["telepathy", "Voice", " voice", "", "x" * 500])
def test_an_unknown_service_is_refused_with_the_names_there_are(name: str) -> None:
    with pytest.raises(ServiceError) as refused:
        service_parse(name)
    message = str(refused.value)
    assert "is not a service: use voice, video, messaging, sip, sms, im, xmpp or web" in message
    assert len(message) < 200


def test_uri_validate_refuses_an_unknown_service_as_a_service_error() -> None:
    with pytest.raises(ServiceError, match="'telepathy' is not a service") as refused:
        uri_validate("telepathy", "sip:alice@example.com")
    assert not isinstance(refused.value, UriError)


# Accepted, unchanged


@pytest.mark.parametrize(
    ("service", "uri"),
    [
        # RFC 3261 §19.1.3 (its two examples with passwords are refused below).
        ("sip", "sip:alice@atlanta.com"),
        ("sip", "sips:alice@atlanta.com?subject=project%20x&priority=urgent"),
        ("sip", "sips:1212@gateway.com"),
        ("sip", "sip:alice@192.0.2.4"),
        ("sip", "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com"),
        ("sip", "sip:alice;day=tuesday@atlanta.com"),
        ("sip", "sip:alice@atlanta.com;transport=tcp"),
        ("voice", "sip:+1-212-555-1212@gateway.com;user=phone"),
        ("voice", "sip:bob@[2001:db8::10]:5061;transport=tls;lr"),
        ("video", "sips:bob@biloxi.example.com:5061"),
        ("messaging", "sip:alice@chat.example"),
        # RFC 3966 §6, global numbers; then its parameters.
        ("voice", "tel:+1-201-555-0123"),
        ("sms", "tel:+33612345678"),
        ("voice", "tel:+1-201-555-0123;ext=1234"),
        ("voice", "tel:+358-555-1234567;isub=1411"),
        ("voice", "tel:+1(800)555.0199;tgrp=TG-1;trunk-context=example.com"),
        ("voice", "tel:+1-201-555-0123;ext=1234;isub=0x1;private"),
        ("voice", "tel:+123456789012345"),
        # RFC 3986, https only.
        ("web", "https://www.example.com/"),
        ("web", "https://192.0.2.1"),
        ("voice", "https://call.example.com:8443/alice?lang=fr"),
        ("video", "https://[2001:db8::1]/room"),
        ("messaging", "https://chat.example/a/b;c=d?x=y/z?w&v=%2F"),
        # RFC 5122 §2.
        ("xmpp", "xmpp:node@example.com"),
        ("xmpp", "xmpp:example.com"),
        ("xmpp", "xmpp:example-node@example.com/some-resource"),
        ("messaging", "xmpp:support@example.com?message"),
        ("xmpp", "xmpp:romeo@montague.net?message;subject=Test%20Message;body=Here%27s%20a%20test"),
        ("xmpp", "xmpp:nasty!%23$%25()*+,-.;=%3F%5B%5C%5D%5E_%60%7B%7C%7D~node@example.com"),
        (
            "xmpp",
            "xmpp:node@example.com/repulsive%20!%23%22$%25&'()*+,-.%2F:;%3C=%3E%3F%40%5B%5C%5D%5E_"
            "%60%7B%7C%7D~resource",
        ),
        # RFC 3860 §3.2.
        ("im", "im:fred@example.com"),
        ("messaging", "im:alice.smith+chat@example.com"),
        ("im", "im:o'brien!x=y@xn--bcher-kva.example"),
    ],
)
def test_a_valid_uri_is_returned_as_given(service: str, uri: str) -> None:
    assert uri_validate(service, uri) == uri


@pytest.mark.parametrize(
    ("service", "uri", "normalised"),
    [
        ("voice", "SIP:Alice@AtLanta.COM;Transport=TCP", "sip:Alice@atlanta.com;Transport=TCP"),
        ("voice", "sip:bob@[2001:DB8::A]:5060", "sip:bob@[2001:db8::a]:5060"),
        ("voice", "Tel:+1-201-555-0123;EXT=12", "tel:+1-201-555-0123;EXT=12"),
        ("web", "HTTPS://WWW.Example.COM/Path?Q=%2f", "https://www.example.com/Path?Q=%2f"),
        ("xmpp", "XMPP:Juliet@Capulet.LIT/Balcony", "xmpp:Juliet@capulet.lit/Balcony"),
        ("im", "IM:Fred@Example.COM", "im:Fred@example.com"),
    ],
)
def test_only_scheme_and_host_are_lower_cased(service: str, uri: str, normalised: str) -> None:
    assert uri_validate(service, uri) == normalised
    assert uri_validate(service, normalised) == normalised


def test_a_service_can_be_given_as_a_service() -> None:
    assert uri_validate(Service.VOICE, "tel:+33612345678") == "tel:+33612345678"


def test_a_uri_of_exactly_the_maximum_length_is_accepted() -> None:
    uri = "sip:" + "a" * (MAX_URI_LENGTH - len("sip:@b.example")) + "@b.example"
    assert len(uri) == MAX_URI_LENGTH
    assert uri_validate("voice", uri) == uri


def test_a_host_name_of_253_characters_with_63_character_labels_is_accepted() -> None:
    host = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(host) == 253
    assert uri_validate("web", f"https://{host}/") == f"https://{host}/"


# Refused


def test_a_scheme_the_service_does_not_accept_is_refused_with_the_ones_it_does() -> None:
    assert refusal("voice", "ftp://files.example/x") == (
        "'ftp' is not a scheme the voice service accepts: use sip, sips, tel or https"
    )
    assert refusal("sms", "sip:alice@example.com") == (
        "'sip' is not a scheme the sms service accepts: use tel"
    )


def test_a_uri_longer_than_the_maximum_is_refused_before_anything_else() -> None:
    assert refusal("voice", "é" * (MAX_URI_LENGTH + 1)) == "the URI is longer than 1024 characters"
    uri = "sip:" + "a" * (MAX_URI_LENGTH - len("sip:@b.example") + 1) + "@b.example"
    assert refusal("voice", uri) == "the URI is longer than 1024 characters"


@pytest.mark.parametrize(
    ("service", "uri", "said"),
    [
        # Schemes.
        ("im", "xmpp:alice@example.com", "'xmpp' is not a scheme the im service accepts: use im"),
        ("web", "http://www.example.com/", "plain http is not accepted: use https"),
        ("messaging", "http://chat.example/alice", "use https"),
        ("sms", "http://chat.example/alice", "use tel"),
        ("voice", "alice@example.com", "no scheme: start it with sip:, sips:, tel: or https:"),
        ("voice", "1sip:alice@example.com", "no scheme"),
        ("voice", ":alice@example.com", "no scheme"),
        ("voice", "", "the URI is empty"),
        # Characters.
        ("voice", "sip:a b@example.com", "contains a space"),
        ("voice", "sip:alice@example.com\n", "control character U+000A"),
        ("voice", "sip:alice@example.com\t", "control character U+0009"),
        ("voice", "sip:alice@example.com\x00", "control character U+0000"),
        ("voice", "sip:alice@example.com\x7f", "control character U+007F"),
        ("voice", "sip:josé@example.com", "non-ASCII character U+00E9"),
        ("web", "https://bücher.example/", "punycode"),
        # SIP (RFC 3261 §19.1.3's examples with passwords first).
        ("sip", "sip:alice:secretword@atlanta.com;transport=tcp", "password"),
        ("voice", "sip:+1-212-555-1212:1234@gateway.com;user=phone", "password"),
        ("sip", "sip:@example.com", "user part before '@' is empty"),
        ("sip", "sip:alice@", "no host"),
        ("sip", "sip:", "no host"),
        ("sip", "sip:;transport=tcp", "no host"),
        ("sip", "sip:al<ice@example.com", "'<' is not allowed in the user part"),
        ("sip", "sip:al%2gice@example.com", "two hex digits"),
        ("sip", "sip:alice%4@example.com", "two hex digits"),
        ("sip", "sip:alice@example.com;", "parameter must be ';name' or ';name=value'"),
        ("sip", "sip:alice@example.com;=tcp", "parameter must be"),
        ("sip", "sip:alice@example.com;transport=", "parameter must be"),
        ("sip", "sip:alice@example.com;a=b=c", "'=' is not allowed in the SIP URI parameter"),
        ("sip", "sip:alice@example.com?subject", "header after '?' must be name=value"),
        ("sip", "sip:alice@example.com?", "header after '?' must be name=value"),
        ("sip", "sip:alice@example.com?a=b&", "header after '?' must be name=value"),
        ("sip", "sip:alice@example.com?a=<", "'<' is not allowed in the SIP URI header"),
        ("sip", "sip:alice@b@example.com", "'@' is not allowed in a host name"),
        # Ports.
        ("sip", "sip:alice@example.com:0", "port must be a number from 1 to 65535"),
        ("sip", "sip:alice@example.com:65536", "port must be"),
        ("sip", "sip:alice@example.com:", "port must be"),
        ("sip", "sip:alice@example.com:5o60", "port must be"),
        ("sip", "sip:alice@example.com:050600", "port must be"),
        ("web", "https://example.com:99999/", "port must be"),
        ("sip", "sip:alice@[2001:db8::1]x", "only ':' and a port may follow the host"),
        # Hosts.
        ("sip", "sip:alice@-example.com", "label '-example' starts or ends with '-'"),
        ("sip", "sip:alice@example-.com", "starts or ends with '-'"),
        ("sip", "sip:alice@exa_mple.com", "'_' is not allowed in a host name"),
        ("sip", "sip:alice@example..com", "empty label"),
        ("sip", "sip:alice@.example.com", "empty label"),
        ("sip", "sip:alice@" + "a" * 64 + ".com", "label is longer than 63 characters"),
        ("sip", "sip:alice@" + "a." * 126 + "com", "longer than 253 characters"),
        ("sip", "sip:alice@example.com.", "remove the final dot"),
        ("sip", "sip:alice@example.123", "last label of a host name must start with a letter"),
        ("sip", "sip:alice@256.1.1.1", "'256.1.1.1' is not a valid IPv4 address"),
        ("sip", "sip:alice@192.0.2", "not a valid IPv4 address"),
        ("sip", "sip:alice@[2001:db8::g]", "not a valid IPv6 address"),
        ("sip", "sip:alice@[192.0.2.1]", "not a valid IPv6 address"),
        ("sip", "sip:alice@[fe80::1%25eth0]", "zone identifiers"),
        ("sip", "sip:alice@[2001:db8::1", "must be in brackets"),
        # tel: (RFC 3966 §6's local numbers first).
        ("voice", "tel:7042;phone-context=example.com", "global form"),
        ("voice", "tel:863-1234;phone-context=+1-914-555", "global form"),
        ("sms", "tel:", "global form"),
        ("voice", "tel:+1234567890123456", "more than 15 digits"),
        ("voice", "tel:+1-234-567-890-123-456", "more than 15 digits"),
        ("voice", "tel:+", "no digits"),
        ("voice", "tel:+-.()", "no digits"),
        ("voice", "tel:+1-201-555-0123x", "'x' is not allowed in a tel: number"),
        ("voice", "tel:+1-201-555-0123;ext=", "tel: parameter must be"),
        ("voice", "tel:+1-201-555-0123;ext", "extension (;ext=) must be digits"),
        ("voice", "tel:+1-201-555-0123;ext=12a", "extension (;ext=) must be digits"),
        ("voice", "tel:+1-201-555-0123;ext=-", "extension (;ext=) must be digits"),
        ("voice", "tel:+1-201-555-0123;ext=1;ext=2", "'ext' appears more than once"),
        ("voice", "tel:+1-201-555-0123;EXT=1;ext=2", "appears more than once"),
        ("voice", "tel:+1-201-555-0123;isub", "subaddress (;isub=) is empty"),
        ("voice", "tel:+33612345678;phone-context=+33", "takes no phone-context"),
        ("voice", "tel:+33612345678;a_b=1", "'_' is not allowed in a tel: parameter name"),
        ("voice", "tel:+33612345678;x=<", "'<' is not allowed in the tel: parameter"),
        ("voice", "tel:+33612345678;", "tel: parameter must be"),
        # https:
        ("web", "https://alice@example.com/", "credentials"),
        ("web", "https://alice:secret@example.com/", "credentials"),
        ("web", "https:///path", "no host"),
        ("web", "https://", "no host"),
        ("web", "https://:443/", "no host"),
        ("web", "https:example.com", "must be absolute"),
        ("web", "https://example.com/#call", "remove the fragment"),
        ("web", "https://example.com/a<b", "'<' is not allowed in the path"),
        ("web", "https://example.com/?q=a|b", "'|' is not allowed in the query"),
        ("web", "https://example.com/%zz", "two hex digits"),
        # xmpp: (RFC 5122 §2's authority and IRI examples first).
        ("xmpp", "xmpp://guest@example.com", "remove the '//account@host/' authority"),
        ("xmpp", "xmpp://guest@example.com/support@example.com?message", "authority"),
        ("xmpp", "xmpp:ji%C5%99i@%C4%8Dechy.example/v%20Praze", "punycode"),
        ("xmpp", "xmpp:@example.com", "localpart before '@' is empty"),
        ("xmpp", "xmpp:a%40b@example.com", "may not contain '@', even percent-encoded"),
        ("xmpp", "xmpp:o%27brien@example.com", 'may not contain "\'"'),
        ("xmpp", "xmpp:a&b@example.com", "'&' is not allowed in the XMPP localpart"),
        ("xmpp", "xmpp:alice@example.com/", "resource after '/' is empty"),
        ("xmpp", "xmpp:alice@example.com/a/b", "'/' is not allowed in the XMPP resource"),
        ("xmpp", "xmpp:alice@example.com?", "must start with an action"),
        ("xmpp", "xmpp:alice@example.com?message;subject", "must be ';key=value'"),
        ("xmpp", "xmpp:alice@example.com?message;=x", "must be ';key=value'"),
        ("xmpp", "xmpp:alice@example.com?message;body=a'b", "not allowed in the xmpp: query"),
        ("xmpp", "xmpp:alice@example.com#x", "remove the fragment"),
        ("xmpp", "xmpp:alice@example.com:5222", "':' is not allowed in a host name"),
        ("xmpp", "xmpp:", "no host"),
        # im:
        ("im", "im:fred", "holds an address"),
        ("im", "im:", "holds an address"),
        ("im", "im:@example.com", "nothing before '@'"),
        ("im", "im:fred@", "no host"),
        ("im", "im:.fred@example.com", "may not start or end with '.'"),
        ("im", "im:fred.@example.com", "may not start or end with '.'"),
        ("im", "im:fr..ed@example.com", "'..'"),
        ("im", "im:fred@example.com?subject=hi", "takes no '?' headers"),
        ("im", "im:fr{ed@example.com", "'{' is not allowed in an im: local part"),
        ("im", "im:fr%20ed@example.com", "'%' is not allowed in an im: local part"),
        ("im", "im:" + "a" * 65 + "@example.com", "longer than 64 characters"),
        ("im", "im:fred@[192.0.2.1]", "'[' is not allowed in a host name"),
        ("im", "im:fred@192.0.2.1", "must start with a letter"),
    ],
)
def test_a_bad_uri_is_refused_saying_why(service: str, uri: str, said: str) -> None:
    message = refusal(service, uri)
    assert said in message
    assert "\n" not in message and len(message) < 200


# Properties

SERVICE_NAMES = st.sampled_from(list(Service))
# Bare scheme prefixes, and prefixes that are already valid URIs so that more endings pass.
BARE_PREFIXES = ("sip:", "sips:", "SIP:", "tel:+", "tel:", "https://", "HTTPS://", "xmpp:", "im:")
VALID_PREFIXES = ("sip:a@Example.com", "tel:+1", "https://Example.com", "xmpp:a@b.c", "im:a@b.c")
PREFIXES = st.sampled_from((*BARE_PREFIXES, "http://", *VALID_PREFIXES))
URI_CHARACTERS = st.sampled_from(
    [*"abcXYZ019-._~:/?#[]@!$&'()*+,;=%", "%20", "%4", "xn--", "é", " ", "\n", "::1"]
)
URI_LIKE = st.builds(
    lambda prefix, parts: prefix + "".join(parts), PREFIXES, st.lists(URI_CHARACTERS, max_size=12)
)
LABELS = st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
HOSTS = st.lists(LABELS, min_size=1, max_size=4).map(".".join)
WORDS = st.from_regex(r"[A-Za-z0-9_~-]{1,12}", fullmatch=True)


def accepted_or_refused(service: Service, uri: str) -> None:
    """``uri`` is refused with a UriError, or accepted as a bounded, printable, stable URI."""
    try:
        accepted = uri_validate(service, uri)
    except UriError:
        return
    assert len(accepted) <= MAX_URI_LENGTH
    assert set(accepted) <= PRINTABLE_ASCII
    assert accepted.lower() == uri.lower()
    assert uri_validate(service, accepted) == accepted


@PROPERTY
@given(service=SERVICE_NAMES, uri=st.text(max_size=MAX_URI_LENGTH + 8))
def test_any_text_is_accepted_as_a_stable_uri_or_refused_with_a_uri_error(
    service: Service, uri: str
) -> None:
    accepted_or_refused(service, uri)


@PROPERTY
@given(service=SERVICE_NAMES, uri=URI_LIKE)
def test_any_uri_like_text_is_accepted_as_a_stable_uri_or_refused_with_a_uri_error(
    service: Service, uri: str
) -> None:
    accepted_or_refused(service, uri)


@PROPERTY
@given(
    scheme=st.sampled_from(["sip", "sips"]),
    user=WORDS,
    host=HOSTS,
    port=st.integers(1, 65535),
    transport=WORDS,
)
def test_generated_sip_uris_are_accepted_unchanged(
    scheme: str, user: str, host: str, port: int, transport: str
) -> None:
    uri = f"{scheme}:{user}@{host}:{port};transport={transport}?subject={user}"
    assert uri_validate("sip", uri) == uri


@PROPERTY
@given(
    digits=st.from_regex(r"[1-9][0-9]{0,14}", fullmatch=True),
    ext=st.from_regex(r"[0-9]{1,6}", fullmatch=True),
)
def test_generated_tel_uris_are_accepted_unchanged(digits: str, ext: str) -> None:
    uri = f"tel:+{digits};ext={ext}"
    assert uri_validate("sms", uri) == uri


@PROPERTY
@given(host=HOSTS, segments=st.lists(WORDS, max_size=4), query=st.none() | WORDS)
def test_generated_https_uris_are_accepted_unchanged(
    host: str, segments: list[str], query: str | None
) -> None:
    uri = f"https://{host}/" + "/".join(segments) + (f"?q={query}" if query else "")
    assert uri_validate("web", uri) == uri


@PROPERTY
@given(localpart=WORDS, domain=HOSTS, resource=st.none() | WORDS)
def test_generated_xmpp_and_im_uris_are_accepted_unchanged(
    localpart: str, domain: str, resource: str | None
) -> None:
    jid = f"{localpart}@{domain}" + (f"/{resource}" if resource else "")
    assert uri_validate("xmpp", f"xmpp:{jid}") == f"xmpp:{jid}"
    assert uri_validate("im", f"im:{localpart}@{domain}") == f"im:{localpart}@{domain}"
