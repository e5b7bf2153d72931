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
- ``promise_check``: a write's promise of inclusion is the log's, for the entry it names;
  ``inclusion_wait``: the entry is in a signed checkpoint (a write's answer has no index: the
  log is asked by leaf hash), waiting for it at most so long.
- ``number_label``: a number's label, its VRF proof checked (RFC 9381 §5.3).
- ``checkpoint_latest``: the log's latest checkpoint, its signature checked (C2SP
  tlog-checkpoint) and, under a witness policy, its cosignatures (C2SP tlog-cosignature).
- ``PinnedService.lookup``: a lookup answer, for the number asked, its proofs checked
  (``resolution.verify_lookup``); ``PinnedService.passport_verify``: a PASSporT checked here,
  with the chain its x5u serves, the pinned CA root and the CA's current CRL.
- ``PinnedService.tree_pin``: the log's tree only grows -- each checkpoint verified must
  extend the newest one kept in the store (``resolution.client.trees``).

The witness policy (DESIGN §7.3) is pinned like the keys: the one the service serves at
``/log/witness-policy`` the first time (a server without one has no witnesses: ``quorum
none``), unless the caller gives its own.  Checkpoints of lookups and of ``checkpoint`` must
meet it; a service that serves another policy later is refused (``PinMismatchError``), but
for a service that had no witnesses and now has some: that only adds checks, and is pinned
with a notice.

Every failure raises ``VerificationError``, saying what did not verify -- a checkpoint that
misses the witness quorum ``WitnessQuorumError`` -- except a lookup's
``LookupVerificationError`` (``LookupQuorumError`` for the quorum), a PASSporT's
``PassportError`` (their reasons are protocol codes), and a split view's
``trees.SplitViewError``.

Public API: ``VerificationError``, ``WitnessQuorumError``, ``PinnedService``,
``certificate_check``, ``certificate_log_check``, ``promise_check``, ``inclusion_wait``,
``number_label``, ``checkpoint_latest``, ``LOG_WAIT``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from resolution.client.api import (
    AppendedLog,
    Client,
    IssuedCertificate,
    LogKeys,
)
from resolution.client.errors import ApiError, ClientError
from resolution.client.store import Store, StoreError, public_key_sha256
from resolution.client.trees import SplitViewError, tree_advance
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
from resolution.protocol.policy import NONE, Policy, PolicyError, format_policy, parse_policy
from resolution.protocol.promise import (
    Promise,
    PromiseError,
    open_promise,
    promise_key_name,
)
from resolution.protocol.witnessed import (
    NO_WITNESSES,
    QuorumError,
    WitnessedCheckpoint,
    open_witnessed_checkpoint,
    policy_summary,
)

LOG_WAIT: Final = 15.0
"""Seconds to wait for a new entry to be in a signed checkpoint (the merge delay is 10 s)."""

_POLL: Final = 0.5  # seconds between two reads of the checkpoint while waiting


@dataclass(frozen=True)
class Included:
    """An entry found in the log: its index, and the signed checkpoint that includes it
    (verified with the log's key and, under a witness policy, its witnesses')."""

    index: int
    witnessed: WitnessedCheckpoint

    @property
    def checkpoint(self) -> Checkpoint:
        return self.witnessed.checkpoint


@dataclass(frozen=True)
class PromiseReport:
    """The promises held for a service, as ``PinnedService.promises_check`` found them:
    ``kept`` with the index of their entry, ``pending`` (deadline ahead), ``broken`` (deadline
    passed, the entry in no checkpoint) with the signed note that proves the promise."""

    kept: tuple[tuple[Promise, int], ...] = ()
    pending: tuple[Promise, ...] = ()
    broken: tuple[tuple[Promise, str], ...] = ()


class VerificationError(Exception):
    """An answer of the service did not verify; the message says which, and why."""


class WitnessQuorumError(VerificationError):
    """A checkpoint misses the witness policy's quorum; ``missing`` names the witnesses whose
    cosignatures are missing."""

    def __init__(self, message: str, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


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


def checkpoint_latest(
    client: Client, keys: LogKeys, policy: Policy | None = None
) -> WitnessedCheckpoint | None:
    """The log's latest checkpoint and its signed note, verified with the log's note key and,
    under ``policy``, its witnesses' cosignatures; ``None`` while the log is empty.  Raises
    ``WitnessQuorumError`` for a checkpoint that misses the policy's quorum."""
    note = client.log_checkpoint()
    if note is None:
        return None
    try:
        verifier = parse_verifier_key(keys.note_verifier_key)
        return open_witnessed_checkpoint(note, verifier, policy)
    except QuorumError as exc:
        raise WitnessQuorumError(f"the log's checkpoint is refused: {exc}", exc.missing) from None
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


def promise_check(appended: AppendedLog, keys: LogKeys) -> Promise:
    """The log's promise to include ``appended``, checked: signed by the log's promise key
    (``<origin>/promise``, never its checkpoint key), of this log, for this very leaf hash."""
    if keys.promise_verifier_key is None:
        raise VerificationError("the service has no promise key to check its promise with")
    try:
        promise = open_promise(appended.promise, parse_verifier_key(keys.promise_verifier_key))
    except (NoteError, PromiseError) as exc:
        raise VerificationError(f"the log's promise does not verify: {exc}") from None
    if promise.origin != keys.origin:
        raise VerificationError(f"the promise is of the log {promise.origin!r}, not this one")
    if promise.leaf_hash != appended.leaf_hash:
        raise VerificationError("the promise is for another entry than the answer names")
    return promise


def inclusion_wait(
    client: Client,
    leaf: bytes,
    keys: LogKeys,
    *,
    policy: Policy | None = None,
    wait: float = LOG_WAIT,
    progress: Callable[[float], object] | None = None,
) -> Included:
    """Wait until the log includes the entry whose RFC 6962 leaf hash is ``leaf`` in a
    checkpoint signed by its key (under ``policy``, cosigned), at most ``wait`` seconds; return
    its index and that checkpoint, the inclusion proof checked (RFC 9162 §2.1.3.2).

    ``progress`` is called with the seconds waited so far each time the entry is not in yet.
    A write's entry has no index until the sequencer gives it one: this is how a writer learns
    it (``GET /v1/log/proofs/inclusion?leaf_hash=``).
    """
    started = time.monotonic()
    while True:
        found = checkpoint_latest(client, keys, policy)
        if found is not None:
            checkpoint = found.checkpoint
            try:
                proof = client.log_inclusion_proof(leaf_hash=leaf, size=checkpoint.size)
            except ApiError as exc:
                if exc.status != 404:
                    raise
            else:
                if proof.size != checkpoint.size or proof.leaf_hash != leaf:
                    raise VerificationError("the inclusion proof is not for the entry asked")
                try:
                    verify_inclusion(
                        leaf, proof.index, checkpoint.size, proof.proof, checkpoint.root_hash
                    )
                except ProofError as exc:
                    raise VerificationError(
                        f"log entry {proof.index} is not in the signed checkpoint: {exc}"
                    ) from None
                return Included(index=proof.index, witnessed=found)
        waited = time.monotonic() - started
        if waited >= wait:
            raise VerificationError(
                f"the entry {leaf.hex()[:16]}… is in no checkpoint after {wait:g} s"
            )
        if progress is not None:
            progress(waited)
        time.sleep(_POLL)


def certificate_log_check(
    client: Client,
    issued: IssuedCertificate,
    *,
    number: str,
    key: ec.EllipticCurvePrivateKey,
    keys: LogKeys,
    policy: Policy | None = None,
    wait: float = LOG_WAIT,
    progress: Callable[[float], object] | None = None,
) -> Included:
    """Check that the log holds the entry of certificate ``issued``, as the service says, and
    return its index and the signed checkpoint that includes it (under ``policy``, cosigned).

    The entry must be in a checkpoint within ``wait`` seconds; it is read, its leaf hash must
    be the one ``issued`` names, an inclusion proof must lead to the checkpoint's root, and
    the entry must be a version-2 certificate entry under the number's label whose commitment
    is ``issued``'s opening's over ``issued``'s content, which names the number, the serial,
    and the SHA-256 of the certificate and of ``key``'s public key.
    """
    label = number_label(client, number, keys)
    if keys.promise_verifier_key is not None:
        promise_check(issued.log, keys)
    included = inclusion_wait(
        client, issued.log.leaf_hash, keys, policy=policy, wait=wait, progress=progress
    )
    index = included.index
    page = client.log_entries(index, index + 1)
    if len(page.entries) != 1 or page.entries[0].index != index:
        raise VerificationError(f"the log does not serve entry {index}")
    entry = page.entries[0].entry
    if leaf_hash(entry) != issued.log.leaf_hash:
        raise VerificationError(f"log entry {index} is not the one the certificate's answer names")
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
    return included


class PinnedService:
    """The service behind ``client``, its log keys, CA root and witness policy pinned in
    ``store``, and the newest tree of its log kept there.

    Keys and the policy are fetched and pinned on first use; ``notify`` is called with a line
    for people each time one is (compare it with what the operator publishes).  A pinned key
    never changes: a service presenting another raises ``PinMismatchError``, and so does one
    serving another witness policy.  ``policy``, if given, is the witness policy to hold the
    service's checkpoints to instead of the pinned one (which is then neither read nor
    pinned).
    """

    def __init__(
        self,
        client: Client,
        store: Store,
        *,
        notify: Callable[[str], object] | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.client, self.store = client, store
        self.url = client.base_url
        self._notify = notify
        self._policy = policy  # given, or pinned and checked against the served one once

    def _tell(self, message: str) -> None:
        if self._notify is not None:
            self._notify(message)

    def log_keys(self) -> LogKeys:
        """The log keys pinned for the service; fetched and pinned on first use."""
        pinned = self.store.pinned_log(self.url)
        if pinned is not None:
            verifier = parse_verifier_key(pinned[0])
            promise_key = self.store.pinned_promise_key(self.url)
            if promise_key is None:  # pinned before the log had promises
                served = self.client.log_key()
                if (served.note_verifier_key, served.vrf_public_key) != pinned:
                    # Not this log's promise key to pin: say the log's keys changed.
                    self.store.pin_log(self.url, served.note_verifier_key, served.vrf_public_key)
                promise_key = self._promise_key_pin(served, verifier.name)
            return LogKeys(verifier.name, pinned[0], vrf.SUITE_NAME, pinned[1], promise_key)
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
        self._promise_key_pin(keys, keys.origin)
        return keys

    def _promise_key_pin(self, keys: LogKeys, origin: str) -> str | None:
        """Pin the promise key ``keys`` names, which must be named for ``origin``; None from a
        service without one."""
        served = keys.promise_verifier_key
        if served is None:
            return None
        try:
            name = parse_verifier_key(served).name
        except NoteError as exc:
            raise VerificationError(f"the service's promise key is malformed: {exc}") from None
        if name != promise_key_name(origin):
            raise VerificationError(
                f"the service's promise key is named {name!r}, not {promise_key_name(origin)!r}"
            )
        self.store.pin_promise_key(self.url, served)
        return served

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

    def witness_policy(self) -> Policy:
        """The witness policy the service's checkpoints must meet: the one given, else the one
        pinned for it, which the service must still serve (asked once per instance); pinned
        on first use.  Raises ``PinMismatchError`` if the service serves another one."""
        if self._policy is not None:
            return self._policy
        served_text = self.client.log_witness_policy() or NO_WITNESSES
        try:
            served = format_policy(parse_policy(served_text))
        except PolicyError as exc:
            raise VerificationError(f"the service's witness policy is malformed: {exc}") from None
        pinned = self.store.pinned_policy(self.url)
        if pinned is None or (pinned != served and parse_policy(pinned).quorum == NONE):
            # First use, or a service that had no witnesses and now has: nothing is lost.
            self.store.pin_policy(self.url, served, replace=True)
            policy = parse_policy(served)
            if pinned is not None or policy.quorum != NONE:
                self._tell(
                    f"pinned the witness policy of {self.url}: {policy_summary(policy)} "
                    f"(compare it with the policy its operator publishes)"
                )
        else:
            self.store.pin_policy(self.url, served)  # raises if it changed
        self._policy = parse_policy(served)
        return self._policy

    def checkpoint(self) -> WitnessedCheckpoint | None:
        """``checkpoint_latest`` with the pinned log keys and witness policy."""
        try:
            return checkpoint_latest(self.client, self.log_keys(), self.witness_policy())
        except VerificationError:
            self.key_change_check()
            raise

    def tree_pin(self, found: WitnessedCheckpoint, *, older: bool = False) -> Checkpoint | None:
        """Check that the verified checkpoint ``found`` extends the newest one kept of the
        service's log, keep it if it is newer, and return the one kept before (``None`` the
        first time).  Raises ``trees.SplitViewError`` when it does not extend it -- a split
        view -- after keeping both signed checkpoints as its proof.  With ``older``, a
        smaller tree is one the kept tree must be proven to extend (a lookup's answer may
        come with a checkpoint a little behind)."""
        verifier = parse_verifier_key(self.log_keys().note_verifier_key)
        kept_note = self.store.pinned_tree(self.url)
        if kept_note is None:
            self.store.pin_tree(self.url, found.note)
            return None
        try:
            kept = open_checkpoint(kept_note, verifier, verifier.name)
        except CheckpointError as exc:
            raise StoreError(
                f"the checkpoint kept of {self.url}'s log does not verify with its pinned key: "
                f"{exc}"
            ) from None

        def proof(old: int, new: int) -> tuple[bytes, ...]:
            return self.client.log_consistency_proof(old, new).proof

        try:
            newer = tree_advance(
                kept,
                found.checkpoint,
                proof,
                pinned_note=kept_note,
                shown_note=found.note,
                older=older,
            )
        except SplitViewError as exc:
            saved = self.store.split_view_save(self.url, kept_note, found.note)
            raise SplitViewError(
                f"{exc}. Both signed checkpoints are kept in {saved}: together they prove it",
                pinned=kept_note,
                shown=found.note,
            ) from None
        if newer:
            self.store.pin_tree(self.url, found.note)
        return kept

    def label(self, number: str) -> bytes:
        """``number_label`` with the pinned VRF key."""
        try:
            return number_label(self.client, number, self.log_keys())
        except VerificationError:
            self.key_change_check()
            raise

    def lookup(self, number: str, service: str | None = None) -> VerifiedLookup:
        """Look ``number`` up, and verify the answer with the pinned log keys and witness
        policy: it must be for that number, and carry valid proofs (``resolution.verify_lookup``)
        in a tree consistent with the one pinned (``tree_pin``, older trees allowed).
        Raises ``LookupVerificationError`` (``LookupQuorumError`` when its checkpoint misses
        the witness quorum), ``trees.SplitViewError``."""
        keys = self.log_keys()
        policy = self.witness_policy()
        answer = self.client.number_lookup(number, service)
        try:
            verified = answer.verify(keys, policy)
            if verified.number != number:
                raise LookupVerificationError(f"the answer is for {verified.number}")
        except LookupVerificationError:
            self.key_change_check()
            raise
        if verified.checkpoint is not None and verified.checkpoint_note is not None:
            shown = WitnessedCheckpoint(
                verified.checkpoint, verified.checkpoint_note, verified.witnessing
            )
            self.tree_pin(shown, older=True)
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
        progress: Callable[[float], object] | None = None,
    ) -> Included:
        """``certificate_log_check`` with the pinned log keys and witness policy, in a tree
        that extends the one pinned (``tree_pin``, which then moves to it); the certificate's
        promise is kept in the store (``promise_hold``)."""
        keys = self.log_keys()
        try:
            self.promise_hold(issued.log)
            included = certificate_log_check(
                self.client,
                issued,
                number=number,
                key=key,
                keys=keys,
                policy=self.witness_policy(),
                wait=wait,
                progress=progress,
            )
        except VerificationError:
            self.key_change_check()
            raise
        self.tree_pin(included.witnessed)
        return included

    def promise_hold(self, appended: AppendedLog) -> Promise | None:
        """Check a write's promise with the pinned promise key and keep it in the store, for
        ``promises_check`` (rs monitor, rs log audit); None from a service without promises."""
        keys = self.log_keys()
        if keys.promise_verifier_key is None:
            return None
        promise = promise_check(appended, keys)
        self.store.promise_keep(self.url, appended.promise)
        return promise

    def promises_check(self, *, now: float | None = None) -> PromiseReport:
        """Every promise kept in the store for this service, against the latest checkpoint
        (verified under the witness policy): the entry is in it (kept: forgotten from the
        store), or not yet and its deadline is ahead (pending), or not and it has passed
        (broken: the signed promise is the evidence)."""
        keys = self.log_keys()
        held = self.store.promises_held(self.url)
        if not held:
            return PromiseReport()
        assert keys.promise_verifier_key is not None  # a promise was checked to be kept
        verifier = parse_verifier_key(keys.promise_verifier_key)
        found = self.checkpoint()
        moment_ms = int((time.time() if now is None else now) * 1000)
        kept: list[tuple[Promise, int]] = []
        pending: list[Promise] = []
        broken: list[tuple[Promise, str]] = []
        settled: list[str] = []
        for note in held:
            try:
                promise = open_promise(note, verifier)
            except PromiseError as exc:
                raise VerificationError(
                    f"a promise kept in the store does not verify: {exc}"
                ) from None
            index = None
            if found is not None:
                checkpoint = found.checkpoint
                try:
                    proof = self.client.log_inclusion_proof(
                        leaf_hash=promise.leaf_hash, size=checkpoint.size
                    )
                except ApiError as exc:
                    if exc.status != 404:
                        raise
                else:
                    try:
                        verify_inclusion(
                            promise.leaf_hash,
                            proof.index,
                            checkpoint.size,
                            proof.proof,
                            checkpoint.root_hash,
                        )
                    except ProofError as exc:
                        raise VerificationError(
                            f"log entry {proof.index} is not in the signed checkpoint: {exc}"
                        ) from None
                    index = proof.index
            if index is not None:
                kept.append((promise, index))
                settled.append(note)
            elif moment_ms > promise.deadline_ms:
                broken.append((promise, note))
            else:
                pending.append(promise)
        self.store.promises_settle(self.url, settled)
        return PromiseReport(tuple(kept), tuple(pending), tuple(broken))

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
