"""The Python SDK of the resolution service: one ``Client`` method per REST call (DESIGN §5).

``Client`` speaks HTTP (httpx) and nothing else: each method sends one request and returns a
typed, frozen dataclass of the answer.  What a number holder signs (handler changes and
revocations, compact JWS with ES256) is made by the module's token functions, with the key of
the number certificate, so that a key never has to be handed to the transport::

    client = Client("https://rs.example.net", api_key="rs_…")
    challenge = client.challenge_start("+33612345678")
    client.challenge_verify(challenge.id, code)                  # the code from the SMS
    issued = client.certificate_issue(challenge.id, csr_pem(key))
    if isinstance(issued, CertificateRequest):   # 202: a holder locked the number
        ...                                      # poll certificate_request_get(issued.id)
    token = handler_put_token(key, issued.serial, number="+33612345678",
                              service="messaging", uri="sip:alice@chat.example")
    client.handler_put("+33612345678", "messaging", token)
    verified = client.number_lookup("+33612345678").verify(client.log_key())

Errors: an answer that is an RFC 9457 problem (or any other 4xx/5xx) raises ``ApiError`` with
its status, type, title and detail; a connection that fails or times out raises
``NetworkError``; a 2xx answer that is not what the API documents raises ``ResponseError``.
All three are ``ClientError`` (``resolution.client.errors``).  Requests go through
``resolution.client.transport``: every one has a timeout; GETs are retried after a network
error, a 429 or a 502/503/504 (they are idempotent), other methods never are.

What an answer says is only checked for shape here; ``resolution.client.verify`` checks it
against the keys pinned for the service (an issued certificate, its log entry, a lookup).

The number lock (DESIGN §7.2, docs/hijack.md) adds the signed ``lock_token``,
``unlock_token``, ``approve_token``, ``refuse_token`` and ``dispute_token``: a holder locks its
number, answers the requests a lock holds back, and disputes a foreign certificate;
``invite_token``: a holder invites a number no app has registered (DESIGN §7.5).

Public API: ``Client``, the answer dataclasses, ``csr_pem``, ``handler_put_token``,
``handler_delete_token``, ``history_token``, ``revoke_token``, ``lock_token``,
``unlock_token``, ``approve_token``, ``refuse_token``, ``dispute_token``, ``invite_token``.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, NoReturn
from urllib.parse import quote, urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from resolution.client.errors import ClientError, ResponseError
from resolution.client.logreader import LogReader
from resolution.client.transport import DEFAULT_RETRIES, DEFAULT_TIMEOUT, Answer, Transport
from resolution.protocol.canonical import canonical_json
from resolution.protocol.jose import ALG_ES256, jws_sign
from resolution.protocol.lock import STATEMENT_LENGTH
from resolution.protocol.lookup import VerifiedLookup, verify_lookup
from resolution.protocol.policy import Policy

JOSE: Final = "application/jose"  # RFC 7515 §9.2.1: a compact JWS body
_MAX_PEM_BYTES: Final = 64 * 1024
# A map of 100 services and 10,000 ranges is about 1 MB (bench/RESULTS.md); room for more.
_MAX_MAP_BYTES: Final = 16 * 1024 * 1024


# --- Answers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Challenge:
    """An SMS challenge (``POST /v1/challenges``, ``GET``/``verify``)."""

    id: str
    number: str
    status: str  # pending, verified, used or failed
    expires_at: datetime
    attempts_left: int
    delivery: str
    # Why the SMS is being retried or failed; "" otherwise (and from a service that predates it).
    delivery_error: str = ""


@dataclass(frozen=True)
class LogPosition:
    """Where a sequenced entry is in the log: its index and RFC 6962 leaf hash."""

    index: int
    leaf_hash: bytes


@dataclass(frozen=True)
class AppendedLog:
    """A change's log entry as the write answers it: its RFC 6962 leaf hash and the log's
    signed promise to include it within the merge delay (``resolution.protocol.promise``).

    The entry has no index yet: ``resolution.client.verify.inclusion_wait`` waits for the log
    to include it and checks the proof; ``promise_check`` checks the promise itself.
    """

    leaf_hash: bytes
    promise: str


@dataclass(frozen=True)
class IssuedCertificate:
    """A number certificate just issued (``POST /v1/certificates``): PEM, chain and log entry."""

    serial: str
    certificate: str
    chain: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    x5u: str
    log: AppendedLog
    opening: bytes
    """The opening of the log entry's commitment (``log.opening``)."""
    content: Mapping[str, Any]
    """What the log entry commits to (``log.content``): number, provider, serial, hashes and
    validity (``resolution.protocol.entries.CONTENT_FIELDS``)."""
    renews: str | None = None
    """A renewal's certificate renewed (its serial)."""
    handlers_carried: int = 0
    """How many handlers a renewal moved to this certificate."""

    def x509(self) -> x509.Certificate:
        """The certificate, parsed."""
        return x509.load_pem_x509_certificate(self.certificate.encode("ascii"))


@dataclass(frozen=True)
class CertificateState:
    """A certificate's state (``GET /v1/certificates/{serial}``, and after a revocation)."""

    serial: str
    provider: str
    status: str  # valid, revoked, expired or not_yet_valid
    not_before: datetime
    not_after: datetime
    revoked_at: datetime | None
    revocation_reason: str
    x5u: str
    log_index: int | None  # None until sequenced
    revocation_log_index: int | None
    # The number lock (DESIGN §7.2): whether this certificate's lock holds, since when, and
    # its log entry; False and None from a service that predates it.
    locked: bool = False
    locked_at: datetime | None = None
    lock_log_index: int | None = None
    log: AppendedLog | None = None
    """The entry a write appended (its leaf hash and the log's promise); None in a read,
    and after unlocking a certificate that was not locked."""


INVITATION_STATUSES: Final = ("open", "accepted", "expired")
"""An invitation's statuses: ``open`` until the number publishes a handler of the service that
the inviter may see (``accepted``: the ``invitation.accepted`` webhook was sent), or until it
``expired``."""


@dataclass(frozen=True)
class Invitation:
    """An invitation the caller's provider had the service send (``POST /v1/invitations``,
    DESIGN §7.5): one SMS to ``to`` naming ``inviter`` (a number it holds a certificate for).

    ``spinvitation`` is the token the service signed (``resolution.protocol.invitation``);
    ``link`` the page the SMS gives."""

    id: str
    to: str
    inviter: str
    service: str
    status: str  # one of INVITATION_STATUSES
    sms: str  # queued, retrying, sent or not_sent
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    handler_log_index: int | None
    log_index: int | None  # None until sequenced
    link: str
    spinvitation: str
    log: AppendedLog | None = None
    """The entry a write appended (its leaf hash and the log's promise); None in a read."""


REQUEST_STATUSES: Final = ("pending", "approved", "refused", "waited", "unlocked")
"""A certificate request's statuses: ``pending``, then issued once ``approved`` by a locked
holder, after the wait (``waited``) or once no lock holds (``unlocked``); or ``refused``."""


@dataclass(frozen=True)
class CertificateRequest:
    """A certificate a number lock holds back (``POST /v1/certificates`` answered 202, and
    ``/v1/certificate-requests``): it waits for a locked holder's answer until ``issues_at``.

    ``certificate`` is the certificate issued, shown to the requester only, as
    ``certificate_issue`` gives one issued at once (its log entry's opening included).
    """

    id: str
    number: str
    requester: str  # the requesting provider's slug
    status: str  # one of REQUEST_STATUSES
    public_key_sha256: bytes
    created_at: datetime
    issues_at: datetime
    closed_at: datetime | None
    log_index: int | None  # None until sequenced
    closed_log_index: int | None
    certificate: IssuedCertificate | None
    log: AppendedLog | None = None
    """The entry a write appended (its leaf hash and the log's promise); None in a read."""

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    @property
    def issued(self) -> bool:
        """Closed with a certificate: approved, after the wait, or once no lock held."""
        return self.status in ("approved", "waited", "unlocked")


@dataclass(frozen=True)
class Dispute:
    """A holder's dispute of a foreign certificate (``/v1/disputes``): ``open`` on the
    operator's queue, then ``revoked`` or ``dismissed`` with the operator's ``resolution``."""

    id: str
    number: str
    disputed: str  # the disputed certificate's serial
    certificate: str  # the serial of the holder's certificate that signed the dispute
    status: str
    opened_at: datetime
    closed_at: datetime | None
    resolution: str
    log_index: int | None  # None until sequenced
    closed_log_index: int | None
    log: AppendedLog | None = None
    """The entry a write appended (its leaf hash and the log's promise); None in a read."""


@dataclass(frozen=True)
class Caller:
    """Who the API key authenticates as (``GET /v1/me``), and what it may do: its ``scope``,
    ``lookup``, ``directory`` (also verifies numbers and publishes) or ``admin`` (also manages
    keys)."""

    provider: str
    name: str
    key_prefix: str
    scope: str


@dataclass(frozen=True)
class Handler:
    """A handler as published (``PUT /v1/numbers/{number}/handlers/{service}``)."""

    number: str
    provider: str
    service: str
    uri: str
    priority: int
    visibility: str | tuple[str, ...]  # "all", or provider slugs
    expires_at: str
    certificate: str
    log: AppendedLog


@dataclass(frozen=True)
class HandlerRemoved:
    """A handler removed (``DELETE /v1/numbers/{number}/handlers/{service}``)."""

    number: str
    provider: str
    service: str
    log: AppendedLog


@dataclass(frozen=True)
class LogKeys:
    """The log's public keys (``GET /log/key``): the checkpoint verifier, the VRF key, and
    the verifier of its promises of inclusion (None from a service that predates them)."""

    origin: str
    note_verifier_key: str
    vrf_suite: str
    vrf_public_key: bytes
    promise_verifier_key: str | None = None


@dataclass(frozen=True)
class LookupAnswer:
    """A lookup answer (``GET /v1/numbers/{number}``), not yet verified.

    Only ``verify`` gives its handlers: nothing in an answer is to be believed before the
    proofs it carries have been checked against the log's keys.
    """

    number: str
    label: str
    raw: Mapping[str, Any] = field(repr=False)

    def verify(self, keys: LogKeys, policy: Policy | None = None) -> VerifiedLookup:
        """``resolution.verify_lookup`` of the answer, its checkpoint under the witness
        ``policy`` if one is given; raises ``LookupVerificationError`` (``LookupQuorumError``
        for a checkpoint that misses the policy's quorum)."""
        return verify_lookup(self.raw, keys.note_verifier_key, keys.vrf_public_key, policy=policy)


@dataclass(frozen=True)
class NumberLabel:
    """A number's VRF label and its RFC 9381 proof (``GET /v1/log/labels/{number}``)."""

    number: str
    label: bytes
    vrf_proof: bytes


@dataclass(frozen=True)
class HistoryEntry:
    """One log entry under a number's label: its bytes as logged and, for a version-2 entry
    whose opening the service keeps, the opening and the content it commits to.

    Not verified here: ``resolution.client.monitor`` checks it against the log's entry.
    """

    index: int | None  # None until sequenced
    entry: bytes
    opening: bytes | None
    content: Mapping[str, Any] | None


@dataclass(frozen=True)
class NumberHistory:
    """Every entry under a number's label, oldest first (``POST /v1/numbers/{number}/history``)."""

    number: str
    label: bytes
    entries: tuple[HistoryEntry, ...]


@dataclass(frozen=True)
class LogEntry:
    """One log entry (``GET /v1/log/entries``): its bytes as logged, and leaf hash."""

    index: int
    kind: str
    entry: bytes
    leaf_hash: bytes


@dataclass(frozen=True)
class EntriesPage:
    """A page of log entries: ``start <= index < end`` of the tree of ``size``."""

    start: int
    end: int
    size: int
    next: int | None
    entries: tuple[LogEntry, ...]


@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162 §2.1.3 inclusion proof of leaf ``index`` in the tree of ``size``."""

    index: int
    size: int
    leaf_hash: bytes
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 §2.1.4 consistency proof from the tree of ``old`` to that of ``new``."""

    old: int
    new: int
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class PassportClaims:
    """A PASSporT's claims as the verifier read them; numbers in E.164 ("+" added)."""

    orig: str
    dest: tuple[str, ...]
    dest_uri: tuple[str, ...]
    iat: int
    ppt: str | None
    x5u: str


@dataclass(frozen=True)
class PassportSigner:
    """The certificate a PASSporT's x5u named."""

    serial: str
    issuer: str
    not_after: datetime


@dataclass(frozen=True)
class PassportVerdict:
    """The service's verdict on a PASSporT (``POST /v1/passports/verify``)."""

    verdict: str  # valid or invalid
    reasons: tuple[str, ...]
    passport: PassportClaims | None
    certificate: PassportSigner | None

    @property
    def valid(self) -> bool:
        return self.verdict == "valid"


# --- Reading answers --------------------------------------------------------------------------


class _Reader:
    """Reads the members of a JSON answer, raising ``ResponseError`` for what is not there."""

    def __init__(self, what: str, data: object) -> None:
        self.what = what
        if not isinstance(data, Mapping):
            self.fail(f"is a {type(data).__name__}, not an object")
        self.data: Mapping[str, Any] = data

    def fail(self, problem: str) -> NoReturn:
        raise ResponseError(f"{self.what}: the answer {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], *, null: bool = False) -> Any:
        if key not in self.data:
            self.fail(f"has no {key!r}")
        value = self.data[key]
        if value is None and null:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            self.fail(f"has a {key!r} that is not a {getattr(kind, '__name__', kind)}")
        return value

    def text(self, key: str) -> str:
        return str(self.get(key, str))

    def integer(self, key: str) -> int:
        return int(self.get(key, int))

    def moment(self, key: str, *, null: bool = False) -> Any:
        text = self.get(key, str, null=null)
        if text is None:
            return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"has a {key!r} that is not an RFC 3339 time")
        if moment.tzinfo is None:
            self.fail(f"has a {key!r} without a time zone")
        return moment

    def b64(self, key: str, value: object = None) -> bytes:
        text = self.get(key, str) if value is None else value
        try:
            return base64.b64decode(str(text), validate=True)
        except (binascii.Error, ValueError):
            self.fail(f"has a {key!r} that is not base64")

    def appended(self, key: str = "log") -> AppendedLog:
        log = _Reader(f"{self.what} {key}", self.get(key, Mapping))
        leaf = log.b64("leaf_hash")
        if len(leaf) != 32:
            log.fail("has a leaf hash that is not 32 bytes")
        return AppendedLog(leaf_hash=leaf, promise=log.text("promise"))

    def appended_if_any(self) -> AppendedLog | None:
        """A write's ``log``: None when absent (a read) or null (a write that appended none)."""
        return None if self.data.get("log") is None else self.appended()

    def strings(self, key: str) -> tuple[str, ...]:
        values = self.get(key, list)
        if not all(isinstance(v, str) for v in values):
            self.fail(f"has a {key!r} that is not a list of strings")
        return tuple(values)


def _certificate_state(reader: _Reader) -> CertificateState:
    # The lock's members are absent from a service that predates it: unlocked.
    lock = reader.data.keys() >= {"locked", "locked_at", "lock_log_index"}
    return CertificateState(
        serial=reader.text("serial"),
        provider=reader.text("provider"),
        status=reader.text("status"),
        not_before=reader.moment("not_before"),
        not_after=reader.moment("not_after"),
        revoked_at=reader.moment("revoked_at", null=True),
        revocation_reason=reader.text("revocation_reason"),
        x5u=reader.text("x5u"),
        log_index=reader.get("log_index", int, null=True),
        revocation_log_index=reader.get("revocation_log_index", int, null=True),
        locked=bool(reader.get("locked", bool)) if lock else False,
        locked_at=reader.moment("locked_at", null=True) if lock else None,
        lock_log_index=reader.get("lock_log_index", int, null=True) if lock else None,
        log=reader.appended_if_any(),
    )


def _issued_certificate(r: _Reader) -> IssuedCertificate:
    log = _Reader(f"{r.what} log", r.get("log", Mapping))
    return IssuedCertificate(
        serial=r.text("serial"),
        certificate=r.text("certificate"),
        chain=r.strings("chain"),
        not_before=r.moment("not_before"),
        not_after=r.moment("not_after"),
        x5u=r.text("x5u"),
        log=r.appended(),
        opening=log.b64("opening"),
        content=log.get("content", Mapping),
        # Older services do not say: no renewal.
        renews=r.get("renews", str, null=True) if "renews" in r.data else None,
        handlers_carried=r.integer("handlers_carried") if "handlers_carried" in r.data else 0,
    )


def _invitation(reader: _Reader) -> Invitation:
    status = reader.text("status")
    if status not in INVITATION_STATUSES:
        reader.fail(f"has the status {status!r}")
    return Invitation(
        id=reader.text("id"),
        to=reader.text("to"),
        inviter=reader.text("inviter"),
        service=reader.text("service"),
        status=status,
        sms=reader.text("sms"),
        created_at=reader.moment("created_at"),
        expires_at=reader.moment("expires_at"),
        accepted_at=reader.moment("accepted_at", null=True),
        handler_log_index=reader.get("handler_log_index", int, null=True),
        log_index=reader.get("log_index", int, null=True),
        link=reader.text("link"),
        spinvitation=reader.text("spinvitation"),
        log=reader.appended_if_any(),
    )


def _certificate_request(reader: _Reader) -> CertificateRequest:
    status = reader.text("status")
    if status not in REQUEST_STATUSES:
        reader.fail(f"has the status {status!r}")
    try:
        key_hash = bytes.fromhex(reader.text("public_key_sha256"))
    except ValueError:
        reader.fail("has a 'public_key_sha256' that is not hex")
    issued = reader.get("certificate", Mapping, null=True)
    certificate = None
    if issued is not None:
        certificate = _issued_certificate(_Reader(f"{reader.what} certificate", issued))
    return CertificateRequest(
        id=reader.text("id"),
        number=reader.text("number"),
        requester=reader.text("requester"),
        status=status,
        public_key_sha256=key_hash,
        created_at=reader.moment("created_at"),
        issues_at=reader.moment("issues_at"),
        closed_at=reader.moment("closed_at", null=True),
        log_index=reader.get("log_index", int, null=True),
        closed_log_index=reader.get("closed_log_index", int, null=True),
        certificate=certificate,
        log=reader.appended_if_any(),
    )


def _dispute(reader: _Reader) -> Dispute:
    return Dispute(
        id=reader.text("id"),
        number=reader.text("number"),
        disputed=reader.text("disputed"),
        certificate=reader.text("certificate"),
        status=reader.text("status"),
        opened_at=reader.moment("opened_at"),
        closed_at=reader.moment("closed_at", null=True),
        resolution=reader.text("resolution"),
        log_index=reader.get("log_index", int, null=True),
        closed_log_index=reader.get("closed_log_index", int, null=True),
        log=reader.appended_if_any(),
    )


def _challenge(reader: _Reader) -> Challenge:
    return Challenge(
        id=reader.text("id"),
        number=reader.text("number"),
        status=reader.text("status"),
        expires_at=reader.moment("expires_at"),
        attempts_left=reader.integer("attempts_left"),
        delivery=reader.text("delivery"),
        delivery_error=reader.text("delivery_error") if "delivery_error" in reader.data else "",
    )


# --- The client -------------------------------------------------------------------------------


class Client:
    """A client of the service at ``base_url`` (``https://host``, no ``/v1``).

    ``api_key`` is the provider's key, sent as a bearer token; the public repository
    (``/ca/``) and the log's read API (``/log/``) need none.  ``timeout`` bounds each request
    (connect, and each wait for data).  Pass ``http`` to use an httpx client of your own (its
    base URL and headers are left alone).  Use as a context manager, or call ``close``.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        http: httpx.Client | None = None,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.retries = retries
        self.transport = Transport(timeout=timeout, retries=retries, http=http)
        self.log = LogReader(f"{self.base_url}/log/", self.transport)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ----------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        jose: str | None = None,
        params: Mapping[str, Any] | None = None,
        auth: bool = True,
        accept: str = "application/json, application/problem+json",
        limit: int | None = None,
    ) -> Answer:
        headers = {"Accept": accept}
        if auth:
            if not self.api_key:
                raise ClientError(f"{method} {path} needs an API key")
            headers["Authorization"] = f"Bearer {self.api_key}"
        content: bytes | None = None
        if jose is not None:
            headers["Content-Type"] = JOSE
            content = jose.encode("ascii")
        elif json is not None:
            headers["Content-Type"] = "application/json"
            content = canonical_json(json)
        # A write is sent again after a network error or an overload only where the service
        # makes the repeat harmless: a POST by its Idempotency-Key (one per call, the same for
        # each attempt), a PUT or DELETE by its JWS (docs/integration.md, "Safe retries").
        idempotent = (method == "POST" and auth) or (method in ("PUT", "DELETE") and jose)
        if method == "POST" and auth:
            headers["Idempotency-Key"] = f'"{uuid.uuid4()}"'
        return self.transport.request(
            method,
            self.base_url + path,
            name=path,
            headers=headers,
            params=params,
            content=content,
            limit=limit,
            idempotent=bool(idempotent),
        )

    def _json(self, method: str, path: str, **kwargs: Any) -> _Reader:
        return _answer_reader(f"{method} {path}", self._request(method, path, **kwargs))

    # --- CA: challenges and certificates (docs/number-verification.md) -----------------

    def challenge_start(self, number: str) -> Challenge:
        """``POST /v1/challenges``: send a code by SMS to ``number`` (E.164)."""
        return _challenge(self._json("POST", "/v1/challenges", json={"number": number}))

    def challenge_cancel(self, challenge_id: str) -> Challenge:
        """``POST /v1/challenges/{id}/cancel``: cancel a challenge not used yet (its SMS, if not
        sent yet, is not sent; its code is refused from now on)."""
        path = f"/v1/challenges/{_segment(challenge_id)}/cancel"
        return _challenge(self._json("POST", path))

    def challenge_get(self, challenge_id: str) -> Challenge:
        """``GET /v1/challenges/{id}``: a challenge's state and SMS delivery."""
        return _challenge(self._json("GET", f"/v1/challenges/{_segment(challenge_id)}"))

    def challenge_verify(self, challenge_id: str, code: str) -> Challenge:
        """``POST /v1/challenges/{id}/verify``: answer with the code from the SMS."""
        path = f"/v1/challenges/{_segment(challenge_id)}/verify"
        return _challenge(self._json("POST", path, json={"code": code}))

    def certificate_issue(
        self,
        challenge_id: str,
        csr: str,
        *,
        renews: tuple[str, ec.EllipticCurvePrivateKey] | None = None,
        iat: int | None = None,
        jti: str | None = None,
    ) -> IssuedCertificate | CertificateRequest:
        """``POST /v1/certificates``: a number certificate for a PEM CSR, spending a verified
        challenge.

        ``renews``, the serial and key of a valid certificate of the number, makes it a
        renewal: its handlers (each logged again) and its lock pass to the new certificate in
        the same call (``renewal``, a JWS by that key; ``handlers_carried`` says how many).

        While a holder has locked the number and no locked holder has the CSR's key, the
        service answers 202 with a pending ``CertificateRequest`` instead: poll it with
        ``certificate_request_get`` until a locked holder approves or refuses it, or its
        ``issues_at`` passes.
        """
        body = {"challenge": challenge_id, "csr": csr}
        if renews is not None:
            serial, key = renews
            payload = {"renews": serial, "challenge": challenge_id, **_fresh(iat, jti)}
            body["renewal"] = _signed(key, serial, payload)
        answer = self._request("POST", "/v1/certificates", json=body)
        r = _answer_reader("POST /v1/certificates", answer)
        if answer.status == 202:
            return _certificate_request(r)
        return _issued_certificate(r)

    def certificate_get(self, serial: str) -> CertificateState:
        """``GET /v1/certificates/{serial}``: valid, revoked or expired, with log indices and
        x5u; only for a certificate issued through the calling provider (404 otherwise)."""
        return _certificate_state(self._json("GET", f"/v1/certificates/{_segment(serial)}"))

    def certificate_revoke(self, serial: str, token: str) -> CertificateState:
        """``POST /v1/certificates/{serial}/revoke`` with a ``revoke_token`` of its key."""
        path = f"/v1/certificates/{_segment(serial)}/revoke"
        return _certificate_state(self._json("POST", path, jose=token))

    # --- The number lock (DESIGN §7.2, docs/hijack.md) ---------------------------------

    def certificate_lock(self, serial: str, token: str) -> CertificateState:
        """``POST /v1/certificates/{serial}/lock`` with a ``lock_token`` of its key: until the
        certificate ends, a certificate for its number to another key waits for this holder's
        answer.  Locking a locked certificate changes nothing."""
        path = f"/v1/certificates/{_segment(serial)}/lock"
        return _certificate_state(self._json("POST", path, jose=token))

    def certificate_unlock(self, serial: str, token: str) -> CertificateState:
        """``POST /v1/certificates/{serial}/unlock`` with an ``unlock_token`` of its key."""
        path = f"/v1/certificates/{_segment(serial)}/unlock"
        return _certificate_state(self._json("POST", path, jose=token))

    def certificate_requests(self, status: str | None = None) -> tuple[CertificateRequest, ...]:
        """``GET /v1/certificate-requests[?status=]``: the caller's own requests and those for
        the numbers it holds a valid certificate for, newest first (at most 100)."""
        params = {"status": status} if status is not None else None
        r = self._json("GET", "/v1/certificate-requests", params=params)
        return tuple(
            _certificate_request(_Reader(f"{r.what} result", item))
            for item in r.get("results", list)
        )

    def invitation_create(self, token: str) -> Invitation:
        """``POST /v1/invitations`` with an ``invite_token``: the service sends the number one
        SMS inviting it to the service, unless a rule refuses it (a ``ProblemError``: 403
        ``number-not-invitable`` for a number that opted out or holds a certificate, alike;
        429 ``invitation-rate-limited`` with its ``scope``)."""
        return _invitation(self._json("POST", "/v1/invitations", jose=token))

    def invitation_get(self, invitation_id: str) -> Invitation:
        """``GET /v1/invitations/{id}``: one of the caller's invitations, to poll it."""
        return _invitation(self._json("GET", f"/v1/invitations/{_segment(invitation_id)}"))

    def invitations(self, status: str | None = None) -> tuple[Invitation, ...]:
        """``GET /v1/invitations[?status=]``: the caller's invitations, newest first (at most
        100)."""
        params = {"status": status} if status is not None else None
        r = self._json("GET", "/v1/invitations", params=params)
        return tuple(
            _invitation(_Reader(f"{r.what} result", item)) for item in r.get("results", list)
        )

    def certificate_request_get(self, request_id: str) -> CertificateRequest:
        """``GET /v1/certificate-requests/{id}``: one request, with its certificate once issued
        (for its requester)."""
        path = f"/v1/certificate-requests/{_segment(request_id)}"
        return _certificate_request(self._json("GET", path))

    def certificate_request_approve(self, request_id: str, token: str) -> CertificateRequest:
        """``POST /v1/certificate-requests/{id}/approve`` with an ``approve_token`` made with a
        locked holder's key: the certificate is issued at once."""
        path = f"/v1/certificate-requests/{_segment(request_id)}/approve"
        return _certificate_request(self._json("POST", path, jose=token))

    def certificate_request_refuse(self, request_id: str, token: str) -> CertificateRequest:
        """``POST /v1/certificate-requests/{id}/refuse`` with a ``refuse_token`` made with a
        locked holder's key: the request ends, never issued."""
        path = f"/v1/certificate-requests/{_segment(request_id)}/refuse"
        return _certificate_request(self._json("POST", path, jose=token))

    def dispute_open(self, token: str) -> Dispute:
        """``POST /v1/disputes`` with a ``dispute_token``: the foreign certificate goes on the
        operator's queue (it stays valid until an operator revokes it)."""
        return _dispute(self._json("POST", "/v1/disputes", jose=token))

    def dispute_get(self, dispute_id: str) -> Dispute:
        """``GET /v1/disputes/{id}``: a dispute the caller opened, and how it was closed."""
        return _dispute(self._json("GET", f"/v1/disputes/{_segment(dispute_id)}"))

    def ca_root(self) -> x509.Certificate:
        """``GET /ca/root.pem``: the CA's trust anchor (pin it: ``resolution.client.store``)."""
        answer = self._request(
            "GET", "/ca/root.pem", auth=False, accept="*/*", limit=_MAX_PEM_BYTES
        )
        certificates = _pem_certificates("GET /ca/root.pem", answer.content)
        if len(certificates) != 1:
            raise ResponseError(f"GET /ca/root.pem: {len(certificates)} certificates, want 1")
        return certificates[0]

    def service_map(self) -> str:
        """``GET /v1/map``: the map of resolution services this one signed, a compact JWS to
        verify (``resolution.protocol.servicemap.map_verify``) before use."""
        answer = self._request(
            "GET", "/v1/map", auth=False, accept="application/jose", limit=_MAX_MAP_BYTES
        )
        try:
            return answer.content.decode("ascii").strip()
        except UnicodeDecodeError:
            raise ResponseError("GET /v1/map: not a compact JWS") from None

    def ca_chain(self, certificate_id: str) -> tuple[x509.Certificate, ...]:
        """``GET /ca/certs/{id}.pem``: a certificate then its issuing CA, by the unguessable id
        of its ``x5u`` (a serial names nothing there).  With the whole URL: ``x5u_chain``."""
        path = f"/ca/certs/{_segment(certificate_id)}.pem"
        answer = self._request("GET", path, auth=False, accept="*/*", limit=_MAX_PEM_BYTES)
        return _pem_certificates(f"GET {path}", answer.content)

    def x5u_chain(self, url: str) -> tuple[x509.Certificate, ...]:
        """GET a PASSporT's ``x5u`` (any http(s) URL, not only this service's): the PEM chain
        it serves, leaf first.  Check it before use: ``passport.passport_verify`` does."""
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise ClientError(f"x5u {url!r} is not an http(s) URL")
        accept = {"Accept": "application/pem-certificate-chain, */*;q=0.1"}
        answer = self.transport.request("GET", url, headers=accept, limit=_MAX_PEM_BYTES)
        return _pem_certificates(f"GET {url}", answer.content)

    def ca_crl(self) -> x509.CertificateRevocationList:
        """``GET /ca/crl``: the issuing CA's current CRL."""
        answer = self._request("GET", "/ca/crl", auth=False, accept="*/*")
        try:
            return x509.load_der_x509_crl(answer.content)
        except ValueError:
            raise ResponseError("GET /ca/crl: the answer is not a DER CRL") from None

    # --- PASSporTs ---------------------------------------------------------------------

    def passport_verify(self, token: str, body: bytes | None = None) -> PassportVerdict:
        """``POST /v1/passports/verify``: the service's verdict on a PASSporT, with the message
        body a "msg" PASSporT protects."""
        request: dict[str, Any] = {"passport": token}
        if body is not None:
            request["body"] = base64.b64encode(body).decode("ascii")
        r = self._json("POST", "/v1/passports/verify", json=request)
        passport = r.get("passport", Mapping, null=True)
        certificate = r.get("certificate", Mapping, null=True)
        claims = signer = None
        if passport is not None:
            p = _Reader(f"{r.what} passport", passport)
            claims = PassportClaims(
                orig=p.text("orig"),
                dest=p.strings("dest"),
                dest_uri=p.strings("dest_uri"),
                iat=p.integer("iat"),
                ppt=p.get("ppt", str, null=True),
                x5u=p.text("x5u"),
            )
        if certificate is not None:
            c = _Reader(f"{r.what} certificate", certificate)
            signer = PassportSigner(
                serial=c.text("serial"), issuer=c.text("issuer"), not_after=c.moment("not_after")
            )
        verdict = r.text("verdict")
        if verdict not in ("valid", "invalid"):
            r.fail(f"has the verdict {verdict!r}")
        return PassportVerdict(
            verdict=verdict, reasons=r.strings("reasons"), passport=claims, certificate=signer
        )

    # --- Directory (docs/directory.md) -------------------------------------------------

    def me(self) -> Caller:
        """``GET /v1/me``: the provider the API key belongs to."""
        r = self._json("GET", "/v1/me")
        return Caller(
            provider=r.text("provider"),
            name=r.text("name"),
            key_prefix=r.text("key_prefix"),
            scope=r.text("scope"),
        )

    def handler_put(self, number: str, service: str, token: str) -> Handler:
        """``PUT /v1/numbers/{number}/handlers/{service}`` with a ``handler_put_token``."""
        path = f"/v1/numbers/{_segment(number)}/handlers/{_segment(service)}"
        r = self._json("PUT", path, jose=token)
        visibility = r.get("visibility", (str, list))
        return Handler(
            number=r.text("number"),
            provider=r.text("provider"),
            service=r.text("service"),
            uri=r.text("uri"),
            priority=r.integer("priority"),
            visibility=visibility if isinstance(visibility, str) else r.strings("visibility"),
            expires_at=r.text("expires_at"),
            certificate=r.text("certificate"),
            log=r.appended(),
        )

    def handler_delete(self, number: str, service: str, token: str) -> HandlerRemoved:
        """``DELETE /v1/numbers/{number}/handlers/{service}`` with a ``handler_delete_token``."""
        path = f"/v1/numbers/{_segment(number)}/handlers/{_segment(service)}"
        r = self._json("DELETE", path, jose=token)
        return HandlerRemoved(
            number=r.text("number"),
            provider=r.text("provider"),
            service=r.text("service"),
            log=r.appended(),
        )

    def number_lookup(self, number: str, service: str | None = None) -> LookupAnswer:
        """``GET /v1/numbers/{number}[?service=]``: the answer, to ``verify`` before use."""
        params = {"service": service} if service is not None else None
        r = self._json("GET", f"/v1/numbers/{_segment(number)}", params=params)
        return LookupAnswer(number=r.text("number"), label=r.text("label"), raw=r.data)

    def number_history(self, number: str, token: str) -> NumberHistory:
        """``POST /v1/numbers/{number}/history`` with a ``history_token``: every log entry
        about the number, with the openings of those that commit to their content."""
        path = f"/v1/numbers/{_segment(number)}/history"
        r = self._json("POST", path, jose=token)
        try:
            label = bytes.fromhex(r.text("label"))
        except ValueError:
            r.fail("has a 'label' that is not hex")
        if len(label) != 64:
            r.fail("has a 'label' that is not 64 bytes")
        entries = []
        for item in r.get("entries", list):
            row = _Reader(f"POST {path} entry", item)
            opening = row.get("opening", str, null=True)
            entries.append(
                HistoryEntry(
                    index=row.get("index", int, null=True),
                    entry=row.b64("entry"),
                    opening=None if opening is None else row.b64("opening", opening),
                    content=row.get("content", Mapping, null=True),
                )
            )
        return NumberHistory(number=r.text("number"), label=label, entries=tuple(entries))

    # --- Transparency log (docs/transparency-log.md) -----------------------------------

    def log_key(self) -> LogKeys:
        """``GET /log/key``: the log's public keys (pin them: ``resolution.client.store``)."""
        r = self._json("GET", "/log/key", auth=False)
        vrf_key = r.b64("vrf_public_key")
        if len(vrf_key) != 32:
            r.fail("has a VRF public key that is not 32 bytes")
        return LogKeys(
            origin=r.text("origin"),
            note_verifier_key=r.text("note_verifier_key"),
            vrf_suite=r.text("vrf_suite"),
            vrf_public_key=vrf_key,
            promise_verifier_key=r.get("promise_verifier_key", str, null=True),
        )

    def log_checkpoint(self) -> bytes | None:
        """``GET /log/checkpoint``: the latest signed checkpoint (a C2SP signed note), or
        ``None`` while the log is empty.  Verify it with ``checkpoint.open_checkpoint``."""
        return self.log.checkpoint()

    def log_witness_policy(self) -> str | None:
        """``GET /log/witness-policy``: the witness policy the log's checkpoints meet (the
        text of ``resolution.protocol.policy``), or ``None`` from a server that serves none
        (one from before witnesses: it has none).  Pin it: ``resolution.client.verify``."""
        return self.log.witness_policy()

    def log_entries(self, start: int, end: int | None = None) -> EntriesPage:
        """``GET /v1/log/entries``: entries ``start <= index < end`` (at most 1000)."""
        params = {"start": start} | ({"end": end} if end is not None else {})
        r = self._json("GET", "/v1/log/entries", params=params, auth=False)
        entries = []
        for item in r.get("entries", list):
            e = _Reader(f"{r.what} entry", item)
            entries.append(
                LogEntry(
                    index=e.integer("index"),
                    kind=e.text("kind"),
                    entry=e.b64("entry"),
                    leaf_hash=e.b64("leaf_hash"),
                )
            )
        return EntriesPage(
            start=r.integer("start"),
            end=r.integer("end"),
            size=r.integer("size"),
            next=r.get("next", int, null=True),
            entries=tuple(entries),
        )

    def log_inclusion_proof(
        self, index: int | None = None, size: int | None = None, *, leaf_hash: bytes | None = None
    ) -> InclusionProof:
        """``GET /v1/log/proofs/inclusion``: proof of leaf ``index``, or of the entry whose
        leaf hash is ``leaf_hash``, in the tree of ``size`` (default: the latest checkpoint).
        A leaf hash not in that tree yet is a ``ClientError`` of status 404."""
        if (index is None) == (leaf_hash is None):
            raise ValueError("give exactly one of index and leaf_hash")
        params: dict[str, Any] = (
            {"index": index}
            if index is not None
            else {"leaf_hash": base64.b64encode(leaf_hash or b"").decode("ascii")}
        )
        params |= {"size": size} if size is not None else {}
        r = self._json("GET", "/v1/log/proofs/inclusion", params=params, auth=False)
        return InclusionProof(
            index=r.integer("index"),
            size=r.integer("size"),
            leaf_hash=r.b64("leaf_hash"),
            proof=tuple(r.b64("proof", node) for node in r.strings("proof")),
        )

    def log_consistency_proof(self, old: int, new: int | None = None) -> ConsistencyProof:
        """``GET /v1/log/proofs/consistency``: proof that tree ``old`` is a prefix of ``new``."""
        params = {"from": old} | ({"to": new} if new is not None else {})
        r = self._json("GET", "/v1/log/proofs/consistency", params=params, auth=False)
        return ConsistencyProof(
            old=r.integer("from"),
            new=r.integer("to"),
            proof=tuple(r.b64("proof", node) for node in r.strings("proof")),
        )

    def log_label(self, number: str) -> NumberLabel:
        """``GET /v1/log/labels/{number}``: the number's label, with its VRF proof (check it
        with ``resolution.protocol.vrf.verify`` before trusting it)."""
        r = self._json("GET", f"/v1/log/labels/{_segment(number)}")
        label = r.text("label")
        try:
            raw_label = bytes.fromhex(label)
        except ValueError:
            r.fail("has a label that is not hex")
        return NumberLabel(number=r.text("number"), label=raw_label, vrf_proof=r.b64("vrf_proof"))

    def log_entry_bundle(self, index: int, width: int) -> list[bytes]:
        """The first ``width`` entries of entry bundle ``index`` (C2SP tlog-tiles), read as the
        auditor reads them: a partial bundle, or the full one once it exists."""
        return self.log.bundle(index, width)


# --- Signed requests --------------------------------------------------------------------------


def csr_pem(key: ec.EllipticCurvePrivateKey) -> str:
    """A PEM PKCS #10 request for ``key`` (the CA ignores its subject and extensions)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rs number key")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _signed(key: ec.EllipticCurvePrivateKey, serial: str, payload: dict[str, Any]) -> str:
    # The certificate is named by its serial (docs/directory.md: "kid").
    return jws_sign({"alg": ALG_ES256, "kid": serial}, canonical_json(payload), key)


def _fresh(iat: int | None, jti: str | None) -> dict[str, Any]:
    return {
        "iat": int(time.time()) if iat is None else iat,
        # Random, so a change is accepted once (the service refuses a jti seen before).
        "jti": uuid.UUID(bytes=secrets.token_bytes(16)).hex if jti is None else jti,
    }


def handler_put_token(
    key: ec.EllipticCurvePrivateKey,
    serial: str,
    *,
    number: str,
    service: str,
    uri: str,
    priority: int = 0,
    visibility: str | Sequence[str] = "all",
    iat: int | None = None,
    jti: str | None = None,
) -> str:
    """The JWS that publishes a handler, signed by the number certificate ``serial``'s key:
    ``{number, service, uri, priority, visibility, iat, jti}`` (docs/directory.md)."""
    payload = {
        "number": number,
        "service": service,
        "uri": uri,
        "priority": priority,
        "visibility": visibility if isinstance(visibility, str) else list(visibility),
    }
    return _signed(key, serial, payload | _fresh(iat, jti))


def handler_delete_token(
    key: ec.EllipticCurvePrivateKey,
    serial: str,
    *,
    number: str,
    service: str,
    iat: int | None = None,
    jti: str | None = None,
) -> str:
    """The JWS that removes a handler: ``{number, service, iat, jti}``."""
    return _signed(key, serial, {"number": number, "service": service} | _fresh(iat, jti))


def history_token(
    key: ec.EllipticCurvePrivateKey,
    serial: str,
    *,
    number: str,
    iat: int | None = None,
    jti: str | None = None,
) -> str:
    """The JWS that asks for a number's history (``Client.number_history``):
    ``{number, iat, jti}``."""
    return _signed(key, serial, {"number": number} | _fresh(iat, jti))


def revoke_token(
    key: ec.EllipticCurvePrivateKey,
    serial: str,
    *,
    reason: str | None = None,
    iat: int | None = None,
) -> str:
    """The JWS that revokes certificate ``serial``, signed by its own key:
    ``{serial, iat, reason?}`` (docs/number-verification.md, "Revocation")."""
    payload: dict[str, Any] = {"serial": serial, "iat": int(time.time()) if iat is None else iat}
    if reason is not None:
        payload["reason"] = reason
    return _signed(key, serial, payload)


def lock_token(
    key: ec.EllipticCurvePrivateKey,
    serial: str,
    *,
    iat: int | None = None,
    jti: str | None = None,
) -> str:
    """The JWS that locks the number of certificate ``serial``, signed by its own key:
    ``{serial, iat, jti}`` (``Client.certificate_lock``)."""
    return _signed(key, serial, {"serial": serial} | _fresh(iat, jti))


def invite_token(
    key: ec.EllipticCurvePrivateKey,
    serial: str,
    *,
    to: str,
    service: str,
    iat: int | None = None,
    jti: str | None = None,
) -> str:
    """The JWS inviting ``to`` (E.164) to ``service``, signed by the key of certificate
    ``serial``, whose number the invitation names: ``{to, service, iat, jti}``
    (``Client.invitation_create``)."""
    return _signed(key, serial, {"to": to, "service": service} | _fresh(iat, jti))


unlock_token: Final = lock_token
"""The JWS that lifts the lock of certificate ``serial`` (``Client.certificate_unlock``): the
same payload as ``lock_token``'s, the URL saying which."""


def approve_token(
    key: ec.EllipticCurvePrivateKey,
    serial: str,
    *,
    request: str,
    iat: int | None = None,
    jti: str | None = None,
) -> str:
    """The JWS by which the locked holder of certificate ``serial`` approves a request for
    its number: ``{request, iat, jti}`` (``Client.certificate_request_approve``)."""
    return _signed(key, serial, {"request": request} | _fresh(iat, jti))


refuse_token: Final = approve_token
"""The JWS by which a locked holder refuses a request (``Client.certificate_request_refuse``):
the same payload as ``approve_token``'s, the URL saying which."""


DISPUTE_STATEMENT_LENGTH: Final = STATEMENT_LENGTH
"""The most characters a dispute's statement may have (the service refuses more)."""


def dispute_token(
    key: ec.EllipticCurvePrivateKey,
    serial: str,
    *,
    disputed: str,
    challenge: str,
    statement: str | None = None,
    iat: int | None = None,
    jti: str | None = None,
) -> str:
    """The JWS by which the holder of certificate ``serial`` disputes the foreign certificate
    ``disputed`` for its number, with ``challenge``, an SMS challenge for the number it has
    just verified: ``{disputed, challenge, statement?, iat, jti}`` (``Client.dispute_open``;
    ``statement``: at most ``DISPUTE_STATEMENT_LENGTH`` characters, for the operator)."""
    payload: dict[str, Any] = {"disputed": disputed, "challenge": challenge}
    if statement:
        payload["statement"] = statement
    return _signed(key, serial, payload | _fresh(iat, jti))


# --- Helpers ----------------------------------------------------------------------------------


def _answer_reader(what: str, answer: Answer) -> _Reader:
    try:
        data = answer.json()
    except ValueError:
        raise ResponseError(f"{what}: the answer is not JSON") from None
    return _Reader(what, data)


def _segment(value: str) -> str:
    """``value`` as one URL path segment: "+" stays (E.164 in paths), "/" and the rest are
    escaped."""
    return quote(value, safe="+")


def _pem_certificates(what: str, data: bytes) -> tuple[x509.Certificate, ...]:
    try:
        return tuple(x509.load_pem_x509_certificates(data))
    except ValueError:
        raise ResponseError(f"{what}: the answer is not PEM certificates") from None
