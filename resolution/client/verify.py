"""Checking what the service says before trusting it: issued certificates, their log entries,
labels, checkpoints and lookups, against the keys pinned for the service.

The functions take the keys to check against; ``PinnedService`` takes them from the store,
trusting the service on first use as SSH trusts a host: the log keys and the CA root it
presents the first time are pinned (``resolution.client.store``), and every later answer must
verify with them.  When an answer does not verify, ``PinnedService`` asks the service for its
keys again, so that a server presenting new keys is reported as such (``PinMismatchError``)
rather than as one bad answer.

- ``certificate_check``: an issued certificate holds the key made for it, its TNAuthList
  covers the number (RFC 8226 §9), and it chains to the CA root (RFC 5280 §6).
- ``certificate_log_check``: its log entry is in a checkpoint signed by the log key (an
  RFC 9162 §2.1.3 inclusion proof), has the leaf hash the issuance answer named, and names the
  number's label, the serial and the SHA-256 of the certificate and of the key.
  A certificate a number lock held back comes to its requester in the same shape
  (``CertificateRequest.certificate``), and is checked the same way.
- ``number_label``: a number's label, its VRF proof checked (RFC 9381 §5.3).
- ``checkpoint_latest``: the log's latest checkpoint, its signature checked (C2SP
  tlog-checkpoint).
- ``PinnedService.lookup``: a lookup answer, for the number asked, its proofs checked
  (``resolution.verify_lookup``); ``PinnedService.passport_verify``: a PASSporT checked here,
  with the chain its x5u serves, the pinned CA root and the CA's current CRL.

Every failure raises ``VerificationError``, saying what did not verify; a lookup
``LookupVerificationError`` and a PASSporT ``PassportError`` (their reasons are protocol codes).

Public API: ``VerificationError``, ``PinnedService``, ``certificate_check``,
``certificate_log_check``, ``number_label``, ``checkpoint_latest``,
``LOG_WAIT``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from resolution.client.api import (
    Client,
    IssuedCertificate,
    LogKeys,
)
from resolution.client.errors import ClientError
from resolution.client.store import Store, public_key_sha256
from resolution.protocol import vrf
from resolution.protocol.certificates import (
    CertificateError,
    certificate_chain_verify,
    tn_auth_list_covers,
)
from resolution.protocol.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from resolution.protocol.entries import (
    EntryError,
    EntryField,
    EntryKind,
    PrivateEntry,
    commitment,
    content_check,
    entry_parse,
)
from resolution.protocol.lookup import LookupVerificationError, VerifiedLookup
from resolution.protocol.merkle import ProofError, leaf_hash, verify_inclusion
from resolution.protocol.note import NoteError, parse_verifier_key
from resolution.protocol.passport import VerifiedPassport, passport_parse, passport_verify

LOG_WAIT: Final = 15.0
"""Seconds to wait for a new entry to be in a signed checkpoint (the merge delay is 10 s)."""

_POLL: Final = 0.5  # seconds between two reads of the checkpoint while waiting


class VerificationError(Exception):
    """An answer of the service did not verify; the message says which, and why."""


def certificate_check(
    issued: IssuedCertificate,
    *,
    number: str,
    key: ec.EllipticCurvePrivateKey,
    root: x509.Certificate,
    at: datetime | None = None,
) -> x509.Certificate:
    """The certificate ``issued`` for ``number``, checked: it holds ``key``'s public key, its
    TNAuthList covers the number, and its chain leads to ``root`` at ``at`` (now)."""
    try:
        certificate = issued.x509()
        chain = [x509.load_pem_x509_certificate(pem.encode("ascii")) for pem in issued.chain]
    except ValueError as exc:
        raise VerificationError(f"the certificate issued is not PEM: {exc}") from None
    public = certificate.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or public_key_sha256(
        public
    ) != public_key_sha256(key):
        raise VerificationError(f"certificate {issued.serial} is not for the key made here")
    try:
        if not tn_auth_list_covers(certificate, number):
            raise VerificationError(
                f"certificate {issued.serial}'s TNAuthList does not cover {number}"
            )
        certificate_chain_verify(certificate, chain, [root], at=at or datetime.now(UTC))
    except CertificateError as exc:
        raise VerificationError(f"certificate {issued.serial} does not verify: {exc}") from None
    return certificate


def checkpoint_latest(client: Client, keys: LogKeys) -> tuple[Checkpoint, bytes] | None:
    """The log's latest checkpoint and its signed note, verified with the log's note key;
    ``None`` while the log is empty."""
    note = client.log_checkpoint()
    if note is None:
        return None
    try:
        verifier = parse_verifier_key(keys.note_verifier_key)
        return open_checkpoint(note, verifier, verifier.name), note
    except (CheckpointError, NoteError) as exc:
        raise VerificationError(f"the log's checkpoint does not verify: {exc}") from None


def number_label(client: Client, number: str, keys: LogKeys) -> bytes:
    """The number's label, its VRF proof checked with the log's VRF key (RFC 9381 §5.3)."""
    answer = client.log_label(number)
    try:
        beta = vrf.verify(keys.vrf_public_key, answer.vrf_proof, number.encode("ascii"))
    except vrf.VRFError as exc:
        raise VerificationError(f"the label of {number} does not verify: {exc}") from None
    if answer.number != number or beta != answer.label:
        raise VerificationError(f"the service's label is not the VRF output for {number}")
    return beta


def certificate_log_check(
    client: Client,
    issued: IssuedCertificate,
    *,
    number: str,
    key: ec.EllipticCurvePrivateKey,
    keys: LogKeys,
    wait: float = LOG_WAIT,
) -> Checkpoint:
    """Check that the log holds the entry of certificate ``issued``, as the service says, and
    return the signed checkpoint that includes it.

    The entry must be in a checkpoint within ``wait`` seconds; it is read, its leaf hash must
    be the one ``issued`` names, an inclusion proof must lead to the checkpoint's root, and
    the entry must be a version-2 certificate entry under the number's label whose commitment
    is ``issued``'s opening's over ``issued``'s content, which names the number, the serial,
    and the SHA-256 of the certificate and of ``key``'s public key.
    """
    index = issued.log.index
    label = number_label(client, number, keys)
    deadline = time.monotonic() + wait
    while True:  # the entry is in a checkpoint within the merge delay
        found = checkpoint_latest(client, keys)
        if found is not None and found[0].size > index:
            checkpoint = found[0]
            break
        if time.monotonic() >= deadline:
            raise VerificationError(f"log entry {index} is in no checkpoint after {wait:g} s")
        time.sleep(_POLL)
    page = client.log_entries(index, index + 1)
    if len(page.entries) != 1 or page.entries[0].index != index:
        raise VerificationError(f"the log does not serve entry {index}")
    entry = page.entries[0].entry
    if leaf_hash(entry) != issued.log.leaf_hash:
        raise VerificationError(f"log entry {index} is not the one the certificate's answer names")
    proof = client.log_inclusion_proof(index, checkpoint.size)
    try:
        verify_inclusion(
            leaf_hash(entry), index, checkpoint.size, proof.proof, checkpoint.root_hash
        )
    except ProofError as exc:
        raise VerificationError(
            f"log entry {index} is not in the signed checkpoint: {exc}"
        ) from None
    try:
        logged = entry_parse(entry)
    except EntryError as exc:
        raise VerificationError(f"log entry {index} is not a log entry: {exc}") from None
    if not isinstance(logged, PrivateEntry) or logged.kind != EntryKind.CERTIFICATE:
        raise VerificationError(f"log entry {index} is not a version-2 certificate entry")
    if logged.label != label.hex():
        raise VerificationError(f"log entry {index} does not match the certificate: label")
    try:
        content_check(EntryKind.CERTIFICATE, issued.content)
        committed = commitment(issued.opening, issued.content)
    except (EntryError, ValueError) as exc:
        raise VerificationError(f"the answer's opening and content are not valid: {exc}") from None
    if not hmac.compare_digest(committed.hex(), logged.commitment):
        raise VerificationError(
            f"log entry {index}'s commitment does not match the answer's opening and content"
        )
    try:
        der = issued.x509().public_bytes(serialization.Encoding.DER)
    except ValueError as exc:
        raise VerificationError(f"the certificate issued is not PEM: {exc}") from None
    expected = {
        "number": number,
        EntryField.SERIAL: issued.serial,
        EntryField.CERTIFICATE_SHA256: hashlib.sha256(der).hexdigest(),
        EntryField.PUBLIC_KEY_SHA256: public_key_sha256(key).hex(),
    }
    wrong = [name for name, value in expected.items() if issued.content.get(name) != value]
    if wrong:
        raise VerificationError(
            f"log entry {index} does not match the certificate: {', '.join(wrong)}"
        )
    return checkpoint


class PinnedService:
    """The service behind ``client``, its log keys and CA root pinned in ``store``.

    Keys are fetched and pinned on first use; ``notify`` is called with a line for people each
    time one is (compare it with what the operator publishes).  A pinned key never changes:
    a service presenting another raises ``PinMismatchError``.
    """

    def __init__(
        self, client: Client, store: Store, *, notify: Callable[[str], object] | None = None
    ) -> None:
        self.client, self.store = client, store
        self.url = client.base_url
        self._notify = notify

    def _tell(self, message: str) -> None:
        if self._notify is not None:
            self._notify(message)

    def log_keys(self) -> LogKeys:
        """The log keys pinned for the service; fetched and pinned on first use."""
        pinned = self.store.pinned_log(self.url)
        if pinned is not None:
            verifier = parse_verifier_key(pinned[0])
            return LogKeys(verifier.name, pinned[0], vrf.SUITE_NAME, pinned[1])
        keys = self.client.log_key()
        try:
            verifier = parse_verifier_key(keys.note_verifier_key)
        except NoteError as exc:
            raise VerificationError(f"the service's log key is malformed: {exc}") from None
        if verifier.name != keys.origin:
            raise VerificationError(
                f"the service's log key is named {verifier.name!r}, not its origin {keys.origin!r}"
            )
        self.store.pin_log(self.url, keys.note_verifier_key, keys.vrf_public_key)
        self._tell(
            f"pinned the log keys of {self.url}: {keys.note_verifier_key} (compare it with "
            f"the key its operator publishes)"
        )
        return keys

    def ca_root(self) -> x509.Certificate:
        """The CA root pinned for the service; fetched and pinned on first use."""
        pinned = self.store.pinned_root(self.url)
        if pinned is not None:
            return pinned
        root = self.client.ca_root()
        self.store.pin_root(self.url, root)
        fingerprint = root.fingerprint(hashes.SHA256()).hex()
        self._tell(f"pinned the CA root of {self.url}: SHA-256 {fingerprint}")
        return root

    def key_change_check(self) -> None:
        """After an answer failed to verify with the pinned log keys: raise
        ``PinMismatchError`` if the service now presents other keys, so that the failure is
        named for what it is."""
        try:
            keys = self.client.log_key()
        except ClientError:
            return  # the verification failure is reported as it is
        pinned = self.store.pinned_log(self.url)
        if pinned is not None and pinned != (keys.note_verifier_key, keys.vrf_public_key):
            self.store.pin_log(self.url, keys.note_verifier_key, keys.vrf_public_key)  # raises

    def checkpoint(self) -> tuple[Checkpoint, bytes] | None:
        """``checkpoint_latest`` with the pinned log keys."""
        try:
            return checkpoint_latest(self.client, self.log_keys())
        except VerificationError:
            self.key_change_check()
            raise

    def label(self, number: str) -> bytes:
        """``number_label`` with the pinned VRF key."""
        try:
            return number_label(self.client, number, self.log_keys())
        except VerificationError:
            self.key_change_check()
            raise

    def lookup(self, number: str, service: str | None = None) -> VerifiedLookup:
        """Look ``number`` up, and verify the answer with the pinned log keys: it must be for
        that number, and carry valid proofs (``resolution.verify_lookup``).  Raises
        ``LookupVerificationError``."""
        keys = self.log_keys()
        answer = self.client.number_lookup(number, service)
        try:
            verified = answer.verify(keys)
            if verified.number != number:
                raise LookupVerificationError(f"the answer is for {verified.number}")
        except LookupVerificationError:
            self.key_change_check()
            raise
        return verified

    def certificate_check(
        self,
        issued: IssuedCertificate,
        *,
        number: str,
        key: ec.EllipticCurvePrivateKey,
    ) -> x509.Certificate:
        """``certificate_check`` against the pinned CA root."""
        return certificate_check(issued, number=number, key=key, root=self.ca_root())

    def certificate_log_check(
        self,
        issued: IssuedCertificate,
        *,
        number: str,
        key: ec.EllipticCurvePrivateKey,
        wait: float = LOG_WAIT,
    ) -> Checkpoint:
        """``certificate_log_check`` with the pinned log keys."""
        keys = self.log_keys()
        try:
            return certificate_log_check(
                self.client, issued, number=number, key=key, keys=keys, wait=wait
            )
        except VerificationError:
            self.key_change_check()
            raise

    def passport_verify(
        self, token: str, body: bytes | None = None, *, at: datetime | None = None
    ) -> VerifiedPassport:
        """Verify a PASSporT here, as ``resolution.protocol.passport.passport_verify`` does:
        with the chain its ``x5u`` serves, to the pinned CA root, and with the CA's current
        CRL, which must list it as not revoked.  Raises ``PassportError``."""
        root = self.ca_root()
        passport = passport_parse(token)
        chain = self.client.x5u_chain(passport.x5u)
        crl = self.client.ca_crl()
        return passport_verify(
            token,
            chain=chain,
            roots=[root],
            at=at or datetime.now(UTC),
            crls=[crl],
            crl_required=True,
            body=body,
        )
