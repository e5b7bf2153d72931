"""Services and handler URIs: which schemes each service accepts, and the syntax of each scheme.

A handler says: for this number, service S is reached at URI U (docs/directory.md). This module
decides whether U is acceptable for S. It imports nothing from Django and touches no database,
so the API, the admin and the client can share it and it can be tested alone.

Services and their schemes
--------------------------

``voice``, ``video`` and ``messaging`` are this directory's own, generic services (``voice`` is
wider than the RFC 4415 Enumservice of that name, which takes tel: only). The other names carry
the meaning of the ENUM Enumservice of the same name in IANA's "Enumservice Registrations"
registry (RFC 6117; the older registrations restated by RFC 6118) and accept the URI schemes
that registration names, limited to the six schemes checked here::

    service    schemes                     why
    voice      sip, sips, tel, https       a SIP address, a phone number or a web call page
    video      sip, sips, https            tel: reaches no video endpoint
    messaging  sip, sips, https, xmpp, im  SIP MESSAGE, a web chat, XMPP or an RFC 3860 inbox
    sip        sip, sips                   RFC 3764 (E2U+sip)
    sms        tel                         RFC 4355 §5.2 (E2U+sms:tel; its mailto: subtype
                                           is not supported here)
    im         im                          RFC 5028 registers im: alone; XMPP and SIP
                                           addresses go under the xmpp and sip services
    xmpp       xmpp                        RFC 4979 (E2U+xmpp)
    web        https                       RFC 4002 (E2U+web:https; web:http is refused)

Rules for every URI
-------------------

- At most ``MAX_URI_LENGTH`` characters, checked before anything is parsed.
- Printable ASCII only (``!`` to ``~``): no spaces, no control characters, no other characters.
  Anything else must be percent-encoded, and internationalised domain names written in punycode
  (``xn--...``).
- The scheme (RFC 3986 §3.1) and the host (§3.2.2) are case-insensitive and are returned in lower
  case. Everything else is returned exactly as given: nothing is decoded, reordered or added.
- A host is a DNS name, an IPv4 address, or an IPv6 address in brackets (no zone identifier). A
  DNS name is letters, digits and ``-`` in labels of 1 to 63 characters, at most 253 characters in
  all; its last label starts with a letter (RFC 3261's ``toplabel``, which also keeps a name from
  passing for an IPv4 address). A final dot is refused: one name, one spelling.
- A port, where a scheme has one, is 1 to 65535.
- Credentials never belong in a directory: a SIP password or ``user@`` in an https: URI is refused.
- ``%`` must start a percent-encoding of two hex digits.

Rules for each scheme
---------------------

- ``sip:``/``sips:`` (RFC 3261 §25.1): ``sip:[user@]host[:port][;name[=value]]...[?name=value
  [&name=value]...]`` with the user, parameter and header characters of that grammar.
- ``tel:`` (RFC 3966 §3): global numbers only, ``+`` then digits with the visual separators
  ``- . ( )``, 1 to 15 digits (ITU-T E.164); then ``;ext=`` (digits), ``;isub=`` and other
  ``;name[=value]`` parameters, none twice. A local number (no ``+``, with a ``phone-context``)
  is refused: the directory cannot know the context a reader dials from.
- ``https:`` (RFC 3986): ``https://host[:port][/path][?query]``. No ``user@``; no fragment, which
  is never sent to the server and so cannot identify a handler. ``http:`` is refused.
- ``xmpp:`` (RFC 5122 §2.2): ``xmpp:[localpart@]domain[/resource][?action[;key=value]...]``. The
  authority form ``xmpp://account@host/...`` is refused: it names the account the *sender* logs in
  with (RFC 5122 §2.3), which a publisher cannot know. A localpart may not hold ``" & ' / : < >
  @`` (RFC 7622 §3.3.1), even percent-encoded. No fragment.
- ``im:`` (RFC 3860 §3.2): ``im:local-part@domain``, the local part a dot-atom (RFC 5322 §3.4.1) of
  at most 64 characters (RFC 5321 §4.5.3.1.1) written with the characters a URI allows unencoded,
  the domain a DNS name. No ``?`` headers: a handler names an inbox, not a message.
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final
from urllib.parse import unquote

MAX_URI_LENGTH: Final = 1024
MAX_HOST_LENGTH: Final = 253  # RFC 1035 §2.3.4's 255 octets, written as text
MAX_LABEL_LENGTH: Final = 63  # RFC 1035 §2.3.4
MAX_TEL_DIGITS: Final = 15  # ITU-T E.164
MAX_IM_LOCAL_LENGTH: Final = 64  # RFC 5321 §4.5.3.1.1
MAX_PRIORITY: Final = 65535
"""A handler's priority is 0 (preferred) to this, as in a DNS SRV record (RFC 2782)."""


class Service(StrEnum):
    VOICE = "voice"
    VIDEO = "video"
    MESSAGING = "messaging"
    SIP = "sip"
    SMS = "sms"
    IM = "im"
    XMPP = "xmpp"
    WEB = "web"


class ServiceError(ValueError):
    """Not the name of a service; the message lists the names there are."""


class UriError(ValueError):
    """The URI is not acceptable for the service; the message says what to change."""


# The table of the module docstring: each service and the schemes it accepts.
SERVICES: Final[Mapping[Service, tuple[str, ...]]] = MappingProxyType(
    {
        Service.VOICE: ("sip", "sips", "tel", "https"),
        Service.VIDEO: ("sip", "sips", "https"),
        Service.MESSAGING: ("sip", "sips", "https", "xmpp", "im"),
        Service.SIP: ("sip", "sips"),
        Service.SMS: ("tel",),
        Service.IM: ("im",),
        Service.XMPP: ("xmpp",),
        Service.WEB: ("https",),
    }
)

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")  # RFC 3986 §3.1
_NO_FRAGMENT: Final = "remove the fragment ('#...'): it is never sent to the server"
_HEX_PAIR = re.compile(r"[0-9A-Fa-f]{2}")
_DIGITS = string.digits
_ALPHANUM = string.ascii_letters + string.digits
_LDH = string.ascii_lowercase + string.digits + "-"  # checked after lower-casing

# RFC 3261 §25.1 and RFC 3966 §3 both take "unreserved" from RFC 2396: alphanum and the marks.
_MARK_UNRESERVED = _ALPHANUM + "-_.!~*'()"
_SIP_USER = _MARK_UNRESERVED + "&=+$,;?/"
_SIP_PARAM = _MARK_UNRESERVED + "[]/:&+$"
_SIP_HEADER = _MARK_UNRESERVED + "[]/?:+$"
_TEL_NUMBER = _DIGITS + "-.()"
_TEL_PARAM_NAME = _ALPHANUM + "-"
_TEL_PARAM = _MARK_UNRESERVED + "[]/:&+$"
_TEL_ISUB = _MARK_UNRESERVED + "/?:@&=+$,"  # "uric", less the ";" that separates parameters
# RFC 3986 §2.3, §3.3 and §3.4.
_UNRESERVED = _ALPHANUM + "-._~"
_PCHAR = _UNRESERVED + "!$&'()*+,;=" + ":@"
_HTTPS_PATH = _PCHAR + "/"
_HTTPS_QUERY = _PCHAR + "/?"
# RFC 5122 §2.2 (the URI forms of inodeid, iresid and the query's key and value).
_XMPP_LOCALPART = _UNRESERVED + "!$()*+,;="
_XMPP_RESOURCE = _UNRESERVED + "!$&'()*+,:;="
_XMPP_QUERY = _UNRESERVED
_XMPP_LOCALPART_FORBIDDEN = frozenset("\"&'/:<>@")  # RFC 7622 §3.3.1
# RFC 5322 §3.2.3 atext, less the characters a URI would need percent-encoded.
_IM_LOCAL = _ALPHANUM + "!$&'*+-/=_~"


def service_parse(text: str) -> Service:
    """The service named ``text`` (exactly, in lower case); raise ServiceError otherwise."""
    if isinstance(text, str):
        try:
            return Service(text)
        except ValueError:
            pass
    shown = _shown(text) if isinstance(text, str) else "this value"
    raise ServiceError(f"{shown} is not a service: use {_either(Service)}")


def uri_validate(service: str, uri: str) -> str:
    """Check ``uri`` for ``service``; return it with scheme and host in lower case.

    Raise ServiceError if ``service`` is not a service, UriError saying what to change if the URI
    is not acceptable (see the module docstring for the rules).
    """
    kind = service_parse(service)
    accepted = SERVICES[kind]
    _characters_check(uri)
    scheme, colon, rest = uri.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme):
        raise UriError(f"the URI has no scheme: start it with {_either(s + ':' for s in accepted)}")
    scheme = scheme.lower()
    if scheme not in accepted:
        if scheme == "http" and "https" in accepted:
            raise UriError("plain http is not accepted: use https")
        raise UriError(
            f"{_shown(scheme)} is not a scheme the {kind} service accepts: use {_either(accepted)}"
        )
    return f"{scheme}:{_SCHEME_CHECKS[scheme](rest)}"


def _characters_check(uri: str) -> None:
    """The length, then the characters: printable ASCII only."""
    if not isinstance(uri, str):
        raise UriError("the URI must be a string")
    if len(uri) > MAX_URI_LENGTH:
        raise UriError(f"the URI is longer than {MAX_URI_LENGTH} characters")
    if not uri:
        raise UriError("the URI is empty")
    for char in uri:
        if char == " ":
            raise UriError("the URI contains a space: remove it or percent-encode it as %20")
        if char < " " or char == "\x7f":
            raise UriError(f"the URI contains the control character U+{ord(char):04X}: remove it")
        if char > "\x7f":
            raise UriError(
                f"the URI contains the non-ASCII character U+{ord(char):04X}: percent-encode it, "
                "and write an internationalised domain name in punycode (xn--...)"
            )


def _sip_check(rest: str) -> str:
    """RFC 3261 §25.1, after ``sip:`` or ``sips:``."""
    prefix = ""
    # "@" is allowed nowhere but after the user part, so the first one ends it.
    if "@" in rest:
        user, _, rest = rest.partition("@")
        _sip_user_check(user)
        prefix = user + "@"
    hostport, tail = _split_before(rest, ";?")
    parameters, question, headers = tail.partition("?")
    for parameter in parameters.split(";")[1:]:
        _sip_parameter_check(parameter)
    if question:
        for header in headers.split("&"):
            _sip_header_check(header)
    return prefix + _hostport_check(hostport) + tail


def _sip_user_check(user: str) -> None:
    if ":" in user:
        raise UriError(
            "the URI contains a password (user:password@): credentials never belong in a directory"
        )
    if not user:
        raise UriError("the user part before '@' is empty: give a user or remove the '@'")
    _text_check(user, _SIP_USER, "user part")


def _sip_parameter_check(parameter: str) -> None:
    name, equals, value = parameter.partition("=")
    if not name or (equals and not value):
        raise UriError("each SIP URI parameter must be ';name' or ';name=value'")
    _text_check(name, _SIP_PARAM, "SIP URI parameter")
    _text_check(value, _SIP_PARAM, "SIP URI parameter")


def _sip_header_check(header: str) -> None:
    name, equals, value = header.partition("=")
    if not name or not equals:
        raise UriError("each SIP URI header after '?' must be name=value, joined by '&'")
    _text_check(name, _SIP_HEADER, "SIP URI header")
    _text_check(value, _SIP_HEADER, "SIP URI header")


def _tel_check(rest: str) -> str:
    """RFC 3966 §3, after ``tel:``: a global number and its parameters."""
    number, *parameters = rest.split(";")
    _tel_number_check(number)
    seen: set[str] = set()
    for parameter in parameters:
        name = _tel_parameter_check(parameter)
        if name in seen:
            raise UriError(f"the tel: parameter {_shown(name)} appears more than once")
        seen.add(name)
    return rest


def _tel_number_check(number: str) -> None:
    if not number.startswith("+"):
        raise UriError(
            "a tel: URI must hold a number in global form, '+' and the country code, "
            "like tel:+33612345678"
        )
    for char in number[1:]:
        if char not in _TEL_NUMBER:
            raise UriError(
                f"{char!r} is not allowed in a tel: number: use digits and the separators - . ( )"
            )
    digits = sum(char in _DIGITS for char in number)
    if digits == 0:
        raise UriError("the tel: number has no digits")
    if digits > MAX_TEL_DIGITS:
        raise UriError(f"the tel: number has more than {MAX_TEL_DIGITS} digits (E.164's limit)")


def _tel_parameter_check(parameter: str) -> str:
    """Check one ``name[=value]``; return the name in lower case (names are case-insensitive)."""
    name, equals, value = parameter.partition("=")
    if not name or (equals and not value):
        raise UriError("each tel: parameter must be ';name' or ';name=value'")
    for char in name:
        if char not in _TEL_PARAM_NAME:
            raise UriError(
                f"{char!r} is not allowed in a tel: parameter name: use letters, digits and '-'"
            )
    name = name.lower()
    if name == "phone-context":
        raise UriError("a global tel: number takes no phone-context: remove it")
    if name == "ext":
        separators_only = not any(char in _DIGITS for char in value)
        if separators_only or any(char not in _TEL_NUMBER for char in value):
            raise UriError("the tel: extension (;ext=) must be digits, with optional - . ( )")
    elif name == "isub":
        if not value:
            raise UriError("the tel: subaddress (;isub=) is empty")
        _text_check(value, _TEL_ISUB, "tel: subaddress")
    else:
        _text_check(value, _TEL_PARAM, "tel: parameter")
    return name


def _https_check(rest: str) -> str:
    """RFC 3986 §3, after ``https:``: an absolute URI with a host, without credentials."""
    if not rest.startswith("//"):
        raise UriError("an https: URI must be absolute, like https://host/path")
    if "#" in rest:
        raise UriError(_NO_FRAGMENT)
    authority, tail = _split_before(rest[2:], "/?")
    if "@" in authority:
        raise UriError(
            "the URI contains credentials (user@ before the host): "
            "credentials never belong in a directory"
        )
    hostport = _hostport_check(authority)
    path, _, query = tail.partition("?")
    _text_check(path, _HTTPS_PATH, "path")
    _text_check(query, _HTTPS_QUERY, "query")
    return "//" + hostport + tail


def _xmpp_check(rest: str) -> str:
    """RFC 5122 §2.2, after ``xmpp:``: the recipient's address and an optional query."""
    if rest.startswith("//"):
        raise UriError(
            "remove the '//account@host/' authority: it names the sender's account, "
            "and an xmpp: handler names only the recipient"
        )
    if "#" in rest:
        raise UriError(_NO_FRAGMENT)
    address, question, query = rest.partition("?")
    bare, slash, resource = address.partition("/")
    prefix, domain = "", bare
    if "@" in bare:
        localpart, _, domain = bare.partition("@")
        _xmpp_localpart_check(localpart)
        prefix = localpart + "@"
    domain = _host_check(domain)
    if slash:
        if not resource:
            raise UriError("the XMPP resource after '/' is empty: give one or remove the '/'")
        _text_check(resource, _XMPP_RESOURCE, "XMPP resource")
    if question:
        _xmpp_query_check(query)
    return prefix + domain + slash + resource + question + query


def _xmpp_localpart_check(localpart: str) -> None:
    if not localpart:
        raise UriError("the XMPP localpart before '@' is empty: give one or remove the '@'")
    _text_check(localpart, _XMPP_LOCALPART, "XMPP localpart")
    for char in unquote(localpart):
        if char in _XMPP_LOCALPART_FORBIDDEN:
            raise UriError(f"an XMPP localpart may not contain {char!r}, even percent-encoded")


def _xmpp_query_check(query: str) -> None:
    action, *pairs = query.split(";")
    if not action:
        raise UriError("an xmpp: query must start with an action, like ?message")
    _text_check(action, _XMPP_QUERY, "xmpp: query")
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not key or not equals:
            raise UriError("each pair in an xmpp: query must be ';key=value'")
        _text_check(key, _XMPP_QUERY, "xmpp: query")
        _text_check(value, _XMPP_QUERY, "xmpp: query")


def _im_check(rest: str) -> str:
    """RFC 3860 §3.2, after ``im:``: a mailbox, ``local-part@domain``."""
    if "?" in rest:
        raise UriError("an im: handler takes no '?' headers: give the address alone")
    local, at, domain = rest.partition("@")
    if not at:
        raise UriError("an im: URI holds an address, like im:alice@example.com")
    if not local:
        raise UriError("the im: address has nothing before '@'")
    if len(local) > MAX_IM_LOCAL_LENGTH:
        raise UriError(
            f"the im: address's local part is longer than {MAX_IM_LOCAL_LENGTH} characters"
        )
    for char in local:
        if char not in _IM_LOCAL and char != ".":
            raise UriError(
                f"{char!r} is not allowed in an im: local part: "
                "use letters, digits, '.' and ! $ & ' * + - / = _ ~"
            )
    if any(not atom for atom in local.split(".")):
        raise UriError("the im: local part may not start or end with '.' or hold '..'")
    return local + "@" + _hostname_check(domain)


_SCHEME_CHECKS: Final[Mapping[str, Callable[[str], str]]] = MappingProxyType(
    {
        "sip": _sip_check,
        "sips": _sip_check,
        "tel": _tel_check,
        "https": _https_check,
        "xmpp": _xmpp_check,
        "im": _im_check,
    }
)


def _hostport_check(text: str) -> str:
    """``host[:port]`` (RFC 3986 §3.2.2-3.2.3); return it with the host in lower case."""
    if text.startswith("[") and "]" in text:
        end = text.index("]") + 1
        host, after = text[:end], text[end:]
    else:
        host, colon, port = text.partition(":")
        after = colon + port
    host = _host_check(host)
    if after:
        if not after.startswith(":"):
            raise UriError("only ':' and a port may follow the host")
        _port_check(after[1:])
    return host + after


def _host_check(host: str) -> str:
    """A DNS name, an IPv4 address or a bracketed IPv6 address; return it in lower case."""
    if not host:
        raise UriError("the URI has no host")
    if host.startswith("["):
        return _ipv6_check(host)
    if all(char in _DIGITS + "." for char in host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise UriError(f"{_shown(host)} is not a valid IPv4 address") from None
        return host
    return _hostname_check(host)


def _ipv6_check(host: str) -> str:
    if not host.endswith("]"):
        raise UriError("an IPv6 address must be in brackets, like [2001:db8::1]")
    address = host[1:-1]
    if "%" in address:
        raise UriError("IPv6 zone identifiers ('%') are not accepted: give a global address")
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        raise UriError(f"{_shown(address)} is not a valid IPv6 address") from None
    return host.lower()


def _hostname_check(name: str) -> str:
    """A DNS name of letter-digit-hyphen labels (RFC 1035 §2.3.1, RFC 3261 §25.1), in lower case."""
    if not name:
        raise UriError("the URI has no host")
    name = name.lower()
    if len(name) > MAX_HOST_LENGTH:
        raise UriError(f"the host name is longer than {MAX_HOST_LENGTH} characters")
    for char in name:
        if char not in _LDH and char != ".":
            raise UriError(
                f"{char!r} is not allowed in a host name: use letters, digits, '-' and '.', "
                "and punycode (xn--...) for an internationalised name"
            )
    if name.endswith("."):
        raise UriError("the host name ends with '.': remove the final dot")
    labels = name.split(".")
    for label in labels:
        if not label:
            raise UriError("the host name has an empty label: a leading dot or two in a row")
        if len(label) > MAX_LABEL_LENGTH:
            raise UriError(f"a host name label is longer than {MAX_LABEL_LENGTH} characters")
        if label.startswith("-") or label.endswith("-"):
            raise UriError(f"the host name label {_shown(label)} starts or ends with '-'")
    if not labels[-1][0].isalpha():
        raise UriError("the last label of a host name must start with a letter")
    return name


def _port_check(port: str) -> None:
    digits = 1 <= len(port) <= 5 and all(char in _DIGITS for char in port)
    if not digits or not 1 <= int(port) <= 65535:
        raise UriError("the port must be a number from 1 to 65535")


def _text_check(text: str, allowed: str, part: str) -> None:
    """Every character of ``text`` is in ``allowed`` or starts a percent-encoding (%XX)."""
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%":
            if not _HEX_PAIR.fullmatch(text[index + 1 : index + 3]):
                raise UriError(
                    f"'%' in the {part} must start a percent-encoding of two hex digits, like %20"
                )
            index += 3
            continue
        if char not in allowed:
            raise UriError(f"{char!r} is not allowed in the {part}: percent-encode it")
        index += 1


def _split_before(text: str, delimiters: str) -> tuple[str, str]:
    """Split ``text`` before the first of ``delimiters``; the second part starts with it."""
    for index, char in enumerate(text):
        if char in delimiters:
            return text[:index], text[index:]
    return text, ""


def _either(names: Iterable[str]) -> str:
    """``a, b or c``."""
    listed = list(names)
    if len(listed) == 1:
        return listed[0]
    return ", ".join(listed[:-1]) + " or " + listed[-1]


def _shown(text: str) -> str:
    """``text`` quoted for a message, cut short if it is long."""
    return repr(text if len(text) <= 32 else text[:32] + "...")
