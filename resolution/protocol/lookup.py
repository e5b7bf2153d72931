"""Checking a directory lookup offline: trust nothing the server says without a proof.

``GET /v1/numbers/{number}`` answers with the number's label and its VRF proof, the log's signed
checkpoint, and the handlers of the number, each with what it takes to check it against the
log (DESIGN §4.2)::

    {"number": "+33612345678", "label": "<128 hex>", "vrf_proof": "<base64, 80 bytes>",
     "checkpoint": "<signed note>" | null,
     "handlers": [{"provider", "service", "uri", "priority", "expires_at", "certificate",
                   "log": {"index", "entry", "opening", "inclusion_proof", "pending"}}],
     "served": true | false,
     "referrals": [{"url": "https://rs.example.fr", "advertisement": "<compact JWS>"}]}

``served`` says whether the service serves the number (DESIGN §7.4); ``referrals`` name the
other services whose range advertisements claim it, each with that advertisement: where to
look the number up when ``served`` is false, both sides of a conflict when it is true.

``verify_lookup`` checks that:

* the label is the ECVRF output (RFC 9381 §5.3) of the number's E.164 string under the log's
  VRF key, so the log entries it names are about this number;
* the checkpoint is signed by the log's note key and names the log (c2sp.org/tlog-checkpoint)
  and, given a witness policy, carries the cosignatures of a quorum of its witnesses
  (``resolution.protocol.witnessed``: c2sp.org/tlog-cosignature, DESIGN §7.3);
* each handler's log entry is a ``handler`` entry (``resolution.protocol.entries``) for this
  label (and, in a version-1 entry, this provider and service), whose commitment
  ``HMAC-SHA256(opening, canonical_json(fields))`` covers exactly the handler's fields and the
  number (``handler_fields``): version-2 entries (label and commitment) and version-1 entries
  published before are checked alike;
* each handler not marked pending is in the checkpoint's tree (RFC 9162 §2.1.3.2);
* given the roots trusted for other services (``referral_roots``, by base URL), each
  referral's advertisement chains to the root trusted for its URL, is signed by its
  certificate, whose TNAuthList covers its blocks, is fresh, and gives that URL for this
  number (``resolution.protocol.advertisements``). Without them, referrals are returned with
  their form checked only (``Referral.advertisement`` is None): not to be followed.

A pending handler (appended after the checkpoint was signed) is checked as far as it can be --
label, commitment -- and returned apart, in ``VerifiedLookup.pending``: nothing yet proves the
log holds it.  The entry's format and the commitment (``handler_commitment``,
``handler_fields``) are ``resolution.protocol.entries``'s, which the server writes with, so
both sides hash the very same bytes.

Without a policy, or under one whose quorum is ``none``, the checkpoint needs only the log's
signature and ``VerifiedLookup.witnessing`` says it is unwitnessed; a checkpoint that misses
the policy's quorum raises ``LookupQuorumError``, naming the witnesses missing.

Public API: ``LookupVerificationError``, ``LookupQuorumError``, ``VerifiedHandler``,
``VerifiedLookup``, ``Referral``, ``verify_lookup``, ``referral_verify``; re-exported from
``entries``: ``handler_fields``, ``handler_commitment``, ``COMMITTED_FIELDS``,
``ENTRY_VERSION``, ``OPENING_SIZE``, and ``ENTRY_KIND`` (its ``EntryKind.HANDLER``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NoReturn
from urllib.parse import urlsplit

from cryptography import x509

from resolution.protocol import vrf
from resolution.protocol.advertisements import (
    Advertisement,
    AdvertisementError,
    advertisement_verify,
)
from resolution.protocol.canonical import CanonicalJSONError, parse_canonical
from resolution.protocol.checkpoint import Checkpoint, CheckpointError
from resolution.protocol.entries import (
    COMMITTED_FIELDS,
    ENTRY_VERSION,
    LABEL_HEX,
    OPENING_SIZE,
    RFC3339,
    SERIAL_HEX,
    EntryError,
    EntryField,
    EntryKind,
    HandlerEntry,
    PrivateEntry,
    entry_from_record,
    handler_commitment,
    handler_fields,
)
from resolution.protocol.merkle import HASH_SIZE, ProofError, leaf_hash, verify_inclusion
from resolution.protocol.note import NoteError, Verifier, parse_verifier_key
from resolution.protocol.numbers import E164
from resolution.protocol.policy import Policy
from resolution.protocol.witnessed import (
    UNWITNESSED,
    QuorumError,
    WitnessedCheckpoint,
    Witnessing,
    open_witnessed_checkpoint,
)

__all__ = [
    "COMMITTED_FIELDS",
    "ENTRY_KIND",
    "ENTRY_VERSION",
    "OPENING_SIZE",
    "LookupQuorumError",
    "LookupVerificationError",
    "Referral",
    "VerifiedHandler",
    "VerifiedLookup",
    "handler_commitment",
    "handler_fields",
    "referral_verify",
    "verify_lookup",
]

ENTRY_KIND: Final = EntryKind.HANDLER
"""The ``kind`` of the log entry that publishes a handler."""

REFERRAL_MAX_AGE: Final = timedelta(days=7)
"""How old a referral's advertisement may be: a service signs its own daily, and its peers
accept one for a week (a peer that is down for a few days is still found)."""


class LookupVerificationError(ValueError):
    """A lookup answer is malformed or does not verify; the message names what failed."""


class LookupQuorumError(LookupVerificationError, QuorumError):
    """The answer's checkpoint misses the witness policy's quorum (``QuorumError``: its
    ``missing`` names the witnesses whose cosignatures are missing)."""


@dataclass(frozen=True)
class VerifiedHandler:
    """A handler whose fields the log entry at ``log_index`` commits to (None: a pending
    handler whose entry the log has not sequenced yet)."""

    provider: str
    service: str
    uri: str
    priority: int
    expires_at: str
    certificate: str
    log_index: int | None


@dataclass(frozen=True)
class VerifiedLookup:
    """A checked lookup answer.

    ``handlers`` are proven to be in the tree of ``checkpoint``.  ``pending`` handlers match
    their log entries but are not yet in any checkpoint: nothing proves the log holds them, so
    a caller that needs that proof must look up again later.  ``checkpoint`` is ``None`` only
    when the log had no checkpoint yet; then every handler is pending.  ``witnessing`` says
    whether a quorum of witnesses cosigned the checkpoint, or it is unwitnessed (no policy,
    or one asking for no quorum).  ``checkpoint_note`` is the checkpoint as served (a signed
    note, cosignatures included): the evidence, should it not extend a tree seen before.
    """

    number: str
    label: bytes
    checkpoint: Checkpoint | None
    handlers: tuple[VerifiedHandler, ...]
    pending: tuple[VerifiedHandler, ...]
    witnessing: Witnessing = UNWITNESSED
    served: bool = True
    referrals: tuple[Referral, ...] = ()
    checkpoint_note: bytes | None = None


@dataclass(frozen=True)
class Referral:
    """Another service that claims the number: its base URL, the advertisement that says so
    (the compact JWS), and that advertisement verified -- None when no roots were given to
    verify it against, in which case it is not to be followed."""

    url: str
    token: str
    advertisement: Advertisement | None


# --- Shape ------------------------------------------------------------------------------------


def _fail(where: str, problem: str) -> NoReturn:
    raise LookupVerificationError(f"{where}: {problem}" if where else problem)


def _member(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        _fail(where, f"{key!r} is missing")
    return obj[key]


def _string(
    obj: Mapping[str, Any], key: str, where: str, form: re.Pattern[str] | None = None
) -> str:
    value = _member(obj, key, where)
    if not isinstance(value, str) or not value:
        _fail(where, f"{key!r} must be a non-empty string, not {_shown(value)}")
    if form is not None and not form.fullmatch(value):
        _fail(where, f"{key!r} is not in the expected form: {value[:200]!r}")
    return value


def _integer(obj: Mapping[str, Any], key: str, where: str, minimum: int | None = None) -> int:
    value = _member(obj, key, where)
    # bool is an int subclass, but JSON true is not a number.
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(where, f"{key!r} must be an integer, not {_shown(value)}")
    if minimum is not None and value < minimum:
        _fail(where, f"{key!r} must be at least {minimum}, not {value}")
    return value


def _object(obj: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = _member(obj, key, where)
    if not isinstance(value, Mapping):
        _fail(where, f"{key!r} must be an object, not {_shown(value)}")
    return value


def _array(obj: Mapping[str, Any], key: str, where: str) -> list[Any] | tuple[Any, ...]:
    value = _member(obj, key, where)
    if not isinstance(value, (list, tuple)):
        _fail(where, f"{key!r} must be an array, not {_shown(value)}")
    return value


def _base64(value: object, what: str, where: str, size: int | None = None) -> bytes:
    if not isinstance(value, str):
        _fail(where, f"{what} must be a base64 string, not {_shown(value)}")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        _fail(where, f"{what} is not base64")
    # Only the one standard, padded spelling: the answer must not be malleable.
    if base64.b64encode(raw).decode() != value:
        _fail(where, f"{what} is not in canonical base64")
    if size is not None and len(raw) != size:
        _fail(where, f"{what} is {len(raw)} bytes, want {size}")
    return raw


def _shown(value: object) -> str:
    return "null" if value is None else type(value).__name__


# --- Checks -----------------------------------------------------------------------------------


def _note_verifier(note_key: str | Verifier) -> Verifier:
    if isinstance(note_key, Verifier):
        return note_key
    if not isinstance(note_key, str):
        # Not its repr: a caller mixing up keys could otherwise print a private key.
        kind = type(note_key).__name__
        raise TypeError(f"note_key must be a verifier key string or a Verifier, not {kind}")
    try:
        return parse_verifier_key(note_key.strip())
    except NoteError as exc:
        raise LookupVerificationError(f"note key is invalid: {exc}") from None


def _label(number: str, label_hex: str, proof: bytes, vrf_key: bytes) -> bytes:
    """Check the VRF proof of the number (RFC 9381 §5.3) and that it yields the label."""
    # alpha is the E.164 string itself, as ASCII: '+' and digits, nothing else.
    try:
        beta = vrf.verify(vrf_key, proof, number.encode("ascii"))
    except vrf.VRFError as exc:
        raise LookupVerificationError(f"VRF proof does not verify for {number}: {exc}") from None
    label = bytes.fromhex(label_hex)
    if not hmac.compare_digest(beta, label):
        raise LookupVerificationError(f"label is not the VRF output for {number}")
    return label


def _checkpoint(
    text: object, verifier: Verifier, policy: Policy | None
) -> WitnessedCheckpoint | None:
    if text is None:
        return None
    if not isinstance(text, str):
        _fail("", f"'checkpoint' must be a string or null, not {_shown(text)}")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        _fail("", "checkpoint is not encodable as UTF-8")
    # The origin must be the key's name (c2sp.org/tlog-checkpoint, "Note text").
    try:
        return open_witnessed_checkpoint(data, verifier, policy)
    except QuorumError as exc:
        raise LookupQuorumError(str(exc), missing=exc.missing, invalid=exc.invalid) from None
    except CheckpointError as exc:
        # open_checkpoint wraps the note's own error; that one says what is wrong.
        reason = exc.__cause__ if isinstance(exc.__cause__, NoteError) else exc
        raise LookupVerificationError(
            f"checkpoint does not verify with key {verifier.name}+{verifier.key_id.hex()}: {reason}"
        ) from None


def _entry(raw: bytes, label: str, provider: str, service: str, where: str) -> str:
    """Check a handler's log entry; return the commitment it holds (lowercase hex)."""
    try:
        record = parse_canonical(raw)
    except CanonicalJSONError as exc:
        _fail(where, f"log entry is not a canonical JSON object: {exc}")
    try:
        entry = entry_from_record(record, kind=ENTRY_KIND)
    except EntryError as exc:
        _fail(where, f"log {exc}")
    # entry_from_record gives the kind asked for: a version-2 entry shows only the label (its
    # commitment covers provider and service), a version-1 one provider and service too.
    assert isinstance(entry, (HandlerEntry, PrivateEntry))
    shown = [(EntryField.LABEL, entry.label, label)]
    if isinstance(entry, HandlerEntry):
        shown += [
            (EntryField.PROVIDER, entry.provider, provider),
            (EntryField.SERVICE, entry.service, service),
        ]
    for key, got, want in shown:
        if got != want:
            _fail(where, f"log entry's {key} is not the answer's {key}")
    return entry.commitment


def _handler(
    item: object,
    position: int,
    number: str,
    label: str,
    checkpoint: Checkpoint | None,
) -> tuple[VerifiedHandler, bool]:
    """Check one handler of the answer; return it and whether it is pending."""
    where = f"handler {position}"
    if not isinstance(item, Mapping):
        _fail(where, f"must be an object, not {_shown(item)}")
    provider = _string(item, "provider", where)
    service = _string(item, "service", where)
    where = f"handler {position} ({service[:64]} by {provider[:64]})"
    uri = _string(item, "uri", where)
    priority = _integer(item, "priority", where)
    expires_at = _string(item, "expires_at", where, RFC3339)
    certificate = _string(item, "certificate", where, SERIAL_HEX)
    log = _object(item, "log", where)
    # A pending handler's entry may have no index yet (not sequenced): null.
    index = None if _member(log, "index", where) is None else _integer(log, "index", where, 0)
    entry = _base64(_member(log, "entry", where), "log entry", where)
    opening = _base64(_member(log, "opening", where), "opening", where, OPENING_SIZE)
    pending = _member(log, "pending", where)
    if not isinstance(pending, bool):
        _fail(where, f"'pending' must be true or false, not {_shown(pending)}")
    proof_b64 = _member(log, "inclusion_proof", where)
    proof: list[bytes] | None = None
    if proof_b64 is not None:
        if not isinstance(proof_b64, (list, tuple)):
            _fail(where, f"'inclusion_proof' must be an array or null, not {_shown(proof_b64)}")
        proof = [
            _base64(node, f"inclusion proof hash {i}", where, HASH_SIZE)
            for i, node in enumerate(proof_b64)
        ]

    commitment = _entry(entry, label, provider, service, where)
    try:
        expected = handler_commitment(opening, handler_fields(number, item))
    except CanonicalJSONError as exc:
        _fail(where, f"its fields cannot be committed to: {exc}")
    if not hmac.compare_digest(expected, bytes.fromhex(commitment)):
        _fail(where, "commitment does not match its fields")

    if pending:
        if proof is not None:
            _fail(where, "a pending handler must not carry an inclusion proof")
        # Pending means "appended after the checkpoint": an entry inside the tree must be proven.
        if checkpoint is not None and index is not None and index < checkpoint.size:
            _fail(
                where,
                f"pending, but log index {index} is in the checkpoint of size {checkpoint.size}",
            )
    else:
        if checkpoint is None:
            _fail(where, "not pending, but the answer has no checkpoint to prove it against")
        if proof is None:
            _fail(where, "not pending, but no inclusion proof is given")
        if index is None:
            _fail(where, "not pending, but its log entry has no index")
        if index >= checkpoint.size:
            _fail(where, f"log index {index} is not in the checkpoint of size {checkpoint.size}")
        try:
            verify_inclusion(leaf_hash(entry), index, checkpoint.size, proof, checkpoint.root_hash)
        except ProofError as exc:
            _fail(where, f"inclusion proof does not verify against the checkpoint: {exc}")

    verified = VerifiedHandler(
        provider=provider,
        service=service,
        uri=uri,
        priority=priority,
        expires_at=expires_at,
        certificate=certificate,
        log_index=index,
    )
    return verified, pending


def verify_lookup(
    response: object,
    note_key: str | Verifier,
    vrf_key: bytes,
    *,
    policy: Policy | None = None,
    referral_roots: Mapping[str, Sequence[x509.Certificate]] | None = None,
    at: datetime | None = None,
) -> VerifiedLookup:
    """Check a ``GET /v1/numbers/{number}`` answer offline and return what it proves.

    ``response`` is the parsed JSON answer; ``note_key`` the log's note verifier key (the
    ``<name>+<hex id>+<base64>`` string, or a parsed ``Verifier``), whose name is the log's
    origin; ``vrf_key`` the log's 32-byte VRF public key; ``policy`` the witness policy the
    checkpoint must meet (``resolution.protocol.policy.parse_policy``), if any.  Raises
    ``LookupVerificationError`` naming the first check that failed, and the handler it failed
    for -- ``LookupQuorumError``, naming the missing witnesses, for a checkpoint that misses the
    policy's quorum; a malformed answer fails the same way, never with a ``KeyError`` or
    ``TypeError``.  A ``TypeError`` means that ``note_key``, ``vrf_key`` or ``policy`` is of
    the wrong type.

    ``referral_roots`` maps other services' base URLs to the roots trusted for their
    advertisements; given, every referral must verify against the roots of its URL (at ``at``,
    now by default), else the answer is refused.  Answers of services that predate referrals
    (no ``served``, no ``referrals``) are read as served, with no referral.
    """
    verifier = _note_verifier(note_key)
    if not isinstance(vrf_key, bytes):
        raise TypeError(f"vrf_key must be bytes, not {type(vrf_key).__name__}")
    if policy is not None and not isinstance(policy, Policy):
        raise TypeError(f"policy must be a Policy, not {type(policy).__name__}")
    if not isinstance(response, Mapping):
        _fail("", f"the answer must be a JSON object, not {_shown(response)}")
    number = _string(response, "number", "", E164)
    label_hex = _string(response, "label", "", LABEL_HEX)
    proof = _base64(_member(response, "vrf_proof", ""), "VRF proof", "", vrf.PROOF_LENGTH)
    label = _label(number, label_hex, proof, vrf_key)
    witnessed = _checkpoint(_member(response, "checkpoint", ""), verifier, policy)
    checkpoint = witnessed.checkpoint if witnessed is not None else None
    items = _array(response, "handlers", "")

    handlers: list[VerifiedHandler] = []
    pending: list[VerifiedHandler] = []
    seen: dict[tuple[str, str], int] = {}
    for position, item in enumerate(items):
        handler, is_pending = _handler(item, position, number, label_hex, checkpoint)
        key = (handler.provider, handler.service)
        if key in seen:
            _fail(
                f"handler {position} ({handler.service} by {handler.provider})",
                f"handler {seen[key]} already has this provider and service",
            )
        seen[key] = position
        (pending if is_pending else handlers).append(handler)
    served = response.get("served", True)
    if not isinstance(served, bool):
        _fail("", f"'served' must be true or false, not {_shown(served)}")
    items = response.get("referrals", [])
    if not isinstance(items, (list, tuple)):
        _fail("", f"'referrals' must be an array, not {_shown(items)}")
    when = at or datetime.now(UTC)
    referrals = tuple(
        _referral(item, position, number, referral_roots, when)
        for position, item in enumerate(items)
    )
    return VerifiedLookup(
        number=number,
        label=label,
        checkpoint=checkpoint,
        handlers=tuple(handlers),
        pending=tuple(pending),
        witnessing=witnessed.witnessing if witnessed is not None else UNWITNESSED,
        served=served,
        referrals=referrals,
        checkpoint_note=witnessed.note if witnessed is not None else None,
    )


def _referral(
    item: object,
    position: int,
    number: str,
    roots: Mapping[str, Sequence[x509.Certificate]] | None,
    at: datetime,
) -> Referral:
    """Check one referral: its form, and its advertisement against ``roots`` if given."""
    where = f"referral {position}"
    if not isinstance(item, Mapping):
        _fail(where, f"must be an object, not {_shown(item)}")
    url = _string(item, "url", where)
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.path not in ("", "/"):
        _fail(where, f"'url' is not a base URL: {url[:200]!r}")
    referral = Referral(
        url=url.rstrip("/"), token=_string(item, "advertisement", where), advertisement=None
    )
    if roots is None:
        return referral
    return _referral_check(referral, number, roots.get(referral.url, ()), at, where)


def referral_verify(
    referral: Referral,
    number: str,
    roots: Sequence[x509.Certificate],
    *,
    at: datetime | None = None,
) -> Referral:
    """``referral`` with its advertisement verified against ``roots`` (those trusted for its
    URL): chain, signature, coverage, freshness (``REFERRAL_MAX_AGE``), and this URL given for
    ``number``.  Raises ``LookupVerificationError``."""
    where = f"the referral to {referral.url[:200]}"
    return _referral_check(referral, number, roots, at or datetime.now(UTC), where)


def _referral_check(
    referral: Referral,
    number: str,
    roots: Sequence[x509.Certificate],
    at: datetime,
    where: str,
) -> Referral:
    if not roots:
        _fail(where, "no root is trusted for this service's advertisements")
    try:
        # http only between services on loopback (a test), which the advertisement itself must
        # then say: it must give this very URL for the number.
        verified = advertisement_verify(
            referral.token,
            roots,
            at=at,
            max_age=REFERRAL_MAX_AGE,
            https_only=referral.url.startswith("https:"),
        )
    except AdvertisementError as exc:
        _fail(where, f"its advertisement does not verify ({exc.reason}): {exc}")
    if verified.url_for(number) != referral.url:
        _fail(where, f"its advertisement does not give this URL for {number}")
    return Referral(url=referral.url, token=referral.token, advertisement=verified)
