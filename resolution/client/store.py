"""What ``rs`` keeps on disk: number keys and certificates, pinned server keys, monitor state.

The folder is ``$RS_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/rs``, else ``~/.config/rs``::

    known_logs                  pinned log keys, one server a line (like SSH's known_hosts)
    known_roots                 pinned CA roots, one server a line
    witness_policies/<server>   the witness policy pinned for a server (resolution.protocol.policy)
    trees/<server>              the newest signed checkpoint verified of a server's log, with
                                its cosignatures (resolution.client.trees)
    trees/<server>.split-view   two signed checkpoints of the log that do not fit one history
    api_keys/<server>           the API key to use with a server (``rs login``): the one sent
                                when a lookup follows a referral to it, or when RS_API_KEY is
                                not set; never sent to any other server
    maps/<server>               the map of resolution services a server signed (``rs map
                                sync``, resolution.protocol.servicemap)
    numbers/+33612345678/
        key.pem                 the number certificate's P-256 private key (PKCS #8)
        key.pending.pem         a new key whose challenge awaits its code
        certificate.pem         the number certificate
        chain.pem               its issuing CA(s), as the service returned them
        number.json             server, serial, x5u, the pending challenge (and the request a
                                number lock holds back), a dispute's challenge, and the
                                SHA-256 of every key made here
        monitor.json            where ``rs monitor`` stopped (resolution.client.monitor)

Every file is written whole (``files.atomic_write``: a temporary file, then a rename) with
mode 0600, and folders with 0700; a private key that others can read is refused, as SSH
refuses one.  A pinned key is learnt on first use and never replaced silently: a server
presenting another one gets ``PinMismatchError`` until its line is removed by hand; a pinned
witness policy likewise, until its file is.  ``<server>`` in a file name is the server's URL
(``server_id``) percent-encoded, so that it is one file name.

Public API: ``Store``, ``Credentials``, ``Pending``, ``PendingDispute``, ``StoreError``,
``PinMismatchError``,
``config_dir``, ``server_id``, ``public_key_sha256``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from resolution.client.files import atomic_write
from resolution.protocol.note import NoteError, parse_verifier_key
from resolution.protocol.numbers import is_e164
from resolution.protocol.policy import PolicyError, format_policy, parse_policy
from resolution.protocol.witnessed import policy_summary

_NUMBER_FORMAT: Final = "rs-number/1"
KNOWN_LOGS: Final = "known_logs"
KNOWN_ROOTS: Final = "known_roots"
KNOWN_PROMISE_KEYS: Final = "known_promise_keys"
PROMISES: Final = "promises"
WITNESS_POLICIES: Final = "witness_policies"
TREES: Final = "trees"
API_KEYS: Final = "api_keys"
MAPS: Final = "maps"


class StoreError(Exception):
    """The store cannot be read or written, or holds nothing for what was asked."""


class PinMismatchError(StoreError):
    """A server presented another key than the one pinned for it."""


@dataclass(frozen=True)
class Credentials:
    """A number's key and certificate, as ``rs register`` stored them."""

    number: str
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    serial: str
    x5u: str
    server: str
    revoked: bool


@dataclass(frozen=True)
class Pending:
    """A challenge started for a number whose code was not given yet, and the new key; or,
    once the challenge was spent on a certificate that a number lock holds back, the request
    (``request_id``) that waits until ``issues_at`` for a locked holder's answer."""

    number: str
    key: ec.EllipticCurvePrivateKey
    challenge_id: str
    expires_at: str
    server: str
    request_id: str | None = None
    issues_at: str | None = None


@dataclass(frozen=True)
class PendingDispute:
    """A challenge started to dispute certificate ``disputed``, whose code was not given yet."""

    number: str
    disputed: str
    challenge_id: str
    expires_at: str
    server: str
    statement: str | None


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The config folder: ``$RS_CONFIG_DIR``, ``$XDG_CONFIG_HOME/rs`` or ``~/.config/rs``."""
    env = os.environ if environ is None else environ
    if env.get("RS_CONFIG_DIR"):
        return Path(env["RS_CONFIG_DIR"]).expanduser()
    if env.get("XDG_CONFIG_HOME"):  # XDG Base Directory: only an absolute path counts
        base = Path(env["XDG_CONFIG_HOME"])
        if base.is_absolute():
            return base / "rs"
    return Path.home() / ".config" / "rs"


def server_id(url: str) -> str:
    """A server's URL as pins name it: scheme and host lowercase, no trailing "/"."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        raise StoreError(f"{url!r} is not an absolute URL")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def public_key_sha256(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> bytes:
    """SHA-256 of the SubjectPublicKeyInfo DER: what a log ``certificate`` entry names as
    ``public_key_sha256``."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    spki = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None


class Store:
    """The config folder at ``root`` (see the module docstring for its layout)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, path: Path) -> Path:
        # Each missing level 0700 (mkdir's parents=True would make them with the umask's mode);
        # existing folders are left as their owner set them.
        missing = []
        ancestor = path
        while not ancestor.exists() and ancestor != ancestor.parent:
            missing.append(ancestor)
            ancestor = ancestor.parent
        try:
            for folder in reversed(missing):
                folder.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc.strerror or exc}") from None
        return path

    def _save(self, path: Path, data: bytes) -> None:
        self._folder(path.parent)
        try:
            atomic_write(path, data)
        except OSError as exc:
            raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None

    # --- numbers ------------------------------------------------------------------------

    def numbers(self) -> list[str]:
        """The numbers with a folder here, in order."""
        folder = self.root / "numbers"
        if not folder.is_dir():
            return []
        return sorted(path.name for path in folder.iterdir() if is_e164(path.name))

    def number_dir(self, number: str) -> Path:
        """The number's folder (not created); ``number`` must be E.164."""
        if not is_e164(number):
            raise StoreError(f"{number!r} is not an E.164 number (+ and 2 to 15 digits)")
        return self.root / "numbers" / number

    def _meta(self, number: str) -> dict[str, Any]:
        path = self.number_dir(number) / "number.json"
        raw = _read(path)
        if raw is None:
            return {"format": _NUMBER_FORMAT, "number": number, "public_keys": []}
        try:
            meta = json.loads(raw)
        except ValueError:
            raise StoreError(f"{path} is not JSON") from None
        if not isinstance(meta, dict) or meta.get("format") != _NUMBER_FORMAT:
            raise StoreError(f"{path} is not an {_NUMBER_FORMAT} file")
        if not isinstance(meta.get("public_keys"), list):
            raise StoreError(f"{path} has no list of public keys")
        return meta

    def _save_meta(self, number: str, meta: dict[str, Any]) -> None:
        data = (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode()
        self._save(self.number_dir(number) / "number.json", data)

    def pending_save(
        self,
        number: str,
        *,
        key: ec.EllipticCurvePrivateKey,
        challenge_id: str,
        expires_at: str,
        server: str,
    ) -> None:
        """Keep a new key and the challenge started for it, before its code is known.

        The key is remembered as the number's own at once, so that a certificate issued for
        it is never taken for someone else's, even if ``rs`` stops before storing it.
        """
        meta = self._meta(number)
        fingerprint = public_key_sha256(key).hex()
        if fingerprint not in meta["public_keys"]:
            meta["public_keys"].append(fingerprint)
        meta["pending"] = {
            "challenge": challenge_id,
            "expires_at": expires_at,
            "server": server_id(server),
        }
        self._save(self.number_dir(number) / "key.pending.pem", _key_pem(key))
        self._save_meta(number, meta)

    def pending(self, number: str) -> Pending | None:
        """The challenge ``pending_save`` kept for the number, with its key, if any."""
        meta = self._meta(number)
        pending = meta.get("pending")
        key_path = self.number_dir(number) / "key.pending.pem"
        raw = _read(key_path)
        if not isinstance(pending, dict) or raw is None:
            return None
        try:
            key = serialization.load_pem_private_key(raw, password=None)
        except ValueError:
            raise StoreError(f"{key_path} is damaged") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise StoreError(f"{key_path} is not an elliptic-curve key")
        request = pending.get("request")
        return Pending(
            number=number,
            key=key,
            challenge_id=str(pending.get("challenge")),
            expires_at=str(pending.get("expires_at")),
            server=str(pending.get("server")),
            request_id=request if isinstance(request, str) else None,
            issues_at=str(pending.get("issues_at")) if isinstance(request, str) else None,
        )

    def request_save(self, number: str, *, request_id: str, issues_at: str) -> None:
        """Record that the pending challenge was spent on a request a number lock holds back:
        the key stays pending until the request is issued (``credentials_save``) or closed
        unissued (``pending_clear``)."""
        meta = self._meta(number)
        if not isinstance(meta.get("pending"), dict):
            raise StoreError(f"no challenge is pending for {number}")
        meta["pending"].update(request=request_id, issues_at=issues_at)
        self._save_meta(number, meta)

    def pending_clear(self, number: str) -> None:
        """Forget the pending challenge or request and its key (its SHA-256 stays among the
        number's own keys: a certificate for it is never someone else's)."""
        meta = self._meta(number)
        meta.pop("pending", None)
        self._save_meta(number, meta)
        (self.number_dir(number) / "key.pending.pem").unlink(missing_ok=True)

    def dispute_save(
        self,
        number: str,
        *,
        disputed: str,
        challenge_id: str,
        expires_at: str,
        server: str,
        statement: str | None,
    ) -> None:
        """Keep the challenge started to dispute certificate ``disputed`` until its code."""
        meta = self._meta(number)
        meta["dispute"] = {
            "disputed": disputed,
            "challenge": challenge_id,
            "expires_at": expires_at,
            "server": server_id(server),
            "statement": statement,
        }
        self._save_meta(number, meta)

    def dispute_pending(self, number: str) -> PendingDispute | None:
        """The challenge ``dispute_save`` kept for the number, if any."""
        dispute = self._meta(number).get("dispute")
        if not isinstance(dispute, dict):
            return None
        statement = dispute.get("statement")
        return PendingDispute(
            number=number,
            disputed=str(dispute.get("disputed")),
            challenge_id=str(dispute.get("challenge")),
            expires_at=str(dispute.get("expires_at")),
            server=str(dispute.get("server")),
            statement=statement if isinstance(statement, str) else None,
        )

    def dispute_clear(self, number: str) -> None:
        """Forget the dispute's challenge (spent, or to be started again)."""
        meta = self._meta(number)
        if meta.pop("dispute", None) is not None:
            self._save_meta(number, meta)

    def credentials_save(
        self,
        number: str,
        *,
        key: ec.EllipticCurvePrivateKey,
        certificate_pem: str,
        chain_pems: tuple[str, ...],
        serial: str,
        x5u: str,
        server: str,
    ) -> None:
        """Store a number's new key and certificate, replacing the previous ones."""
        folder = self.number_dir(number)
        meta = self._meta(number)
        fingerprint = public_key_sha256(key).hex()
        if fingerprint not in meta["public_keys"]:
            meta["public_keys"].append(fingerprint)
        meta.update(serial=serial, x5u=x5u, server=server_id(server), revoked=False)
        meta.pop("pending", None)
        self._save(folder / "key.pem", _key_pem(key))
        self._save(folder / "certificate.pem", certificate_pem.encode("ascii"))
        self._save(folder / "chain.pem", "".join(chain_pems).encode("ascii"))
        self._save_meta(number, meta)
        (folder / "key.pending.pem").unlink(missing_ok=True)

    def credentials(self, number: str) -> Credentials:
        """The number's stored key and certificate; ``StoreError`` if there are none."""
        folder = self.number_dir(number)
        key_path = folder / "key.pem"
        try:
            mode = key_path.stat().st_mode
        except FileNotFoundError:
            raise StoreError(
                f"no key stored for {number} in {folder}: run 'rs register {number}' first"
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise StoreError(
                f"{key_path} is accessible by others (mode {stat.S_IMODE(mode):04o}): "
                f"run 'chmod 600 {key_path}'"
            )
        meta = self._meta(number)
        try:
            key = serialization.load_pem_private_key(_read(key_path) or b"", password=None)
            certificate = x509.load_pem_x509_certificate(_read(folder / "certificate.pem") or b"")
            chain_pem = _read(folder / "chain.pem") or b""
            chain = tuple(x509.load_pem_x509_certificates(chain_pem)) if chain_pem else ()
        except ValueError as exc:
            raise StoreError(f"the files in {folder} are damaged: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise StoreError(f"{key_path} is not an elliptic-curve key")
        for name in ("serial", "x5u", "server"):
            if not isinstance(meta.get(name), str):
                raise StoreError(f"{folder / 'number.json'} has no {name!r}")
        return Credentials(
            number=number,
            key=key,
            certificate=certificate,
            chain=chain,
            serial=meta["serial"],
            x5u=meta["x5u"],
            server=meta["server"],
            revoked=meta.get("revoked") is True,
        )

    def own_public_keys(self, number: str) -> frozenset[bytes]:
        """SHA-256 of every key made here for the number (``public_key_sha256``)."""
        try:
            return frozenset(bytes.fromhex(k) for k in self._meta(number)["public_keys"])
        except (TypeError, ValueError):
            raise StoreError(f"{self.number_dir(number) / 'number.json'} is damaged") from None

    def mark_revoked(self, number: str) -> None:
        """Record that the stored certificate was revoked."""
        meta = self._meta(number)
        meta["revoked"] = True
        self._save_meta(number, meta)

    def monitor_state(self, number: str) -> bytes | None:
        """The number's monitor state (``monitor.json``), or ``None`` before the first run."""
        return _read(self.number_dir(number) / "monitor.json")

    def monitor_state_save(self, number: str, data: bytes) -> None:
        self._save(self.number_dir(number) / "monitor.json", data)

    # --- pins ---------------------------------------------------------------------------

    def _pins(self, name: str) -> dict[str, list[str]]:
        """``server -> fields`` of a known_* file; blank lines and ``#`` comments skipped."""
        path = self.root / name
        raw = _read(path)
        pins: dict[str, list[str]] = {}
        for number, line in enumerate((raw or b"").decode("utf-8", "replace").splitlines(), 1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if len(fields) < 2:
                raise StoreError(f"{path} line {number} is malformed")
            pins.setdefault(fields[0], fields[1:])
        return pins

    def _pin(self, name: str, server: str, fields: list[str]) -> None:
        path = self.root / name
        line = " ".join([server, *fields]) + "\n"
        existing = _read(path) or b""
        if existing and not existing.endswith(b"\n"):
            existing += b"\n"
        self._save(path, existing + line.encode("utf-8"))

    def pinned_log(self, url: str) -> tuple[str, bytes] | None:
        """The pinned ``(note verifier key, VRF public key)`` of the server at ``url``."""
        fields = self._pins(KNOWN_LOGS).get(server_id(url))
        if fields is None:
            return None
        path = self.root / KNOWN_LOGS
        if len(fields) != 2:
            raise StoreError(f"{path}: the line of {server_id(url)} is malformed")
        try:
            parse_verifier_key(fields[0])
            vrf_key = base64.b64decode(fields[1], validate=True)
        except (NoteError, binascii.Error, ValueError):
            raise StoreError(f"{path}: the keys of {server_id(url)} are malformed") from None
        return fields[0], vrf_key

    def pin_log(self, url: str, note_verifier_key: str, vrf_public_key: bytes) -> bool:
        """Pin the log keys of the server at ``url``; True if they were new.

        Raises ``PinMismatchError`` if other keys are pinned for it.
        """
        vrf = base64.b64encode(vrf_public_key).decode("ascii")
        pinned = self.pinned_log(url)
        if pinned is not None:
            if pinned == (note_verifier_key, vrf_public_key):
                return False
            raise PinMismatchError(
                f"THE LOG KEYS OF {server_id(url)} HAVE CHANGED: pinned "
                f"{pinned[0]} (VRF {base64.b64encode(pinned[1]).decode()}), the server now "
                f"sends {note_verifier_key} (VRF {vrf}). Someone may be impersonating the "
                f"service; if its operator announced new keys, delete the line of "
                f"{server_id(url)} in {self.root / KNOWN_LOGS}"
            )
        parse_verifier_key(note_verifier_key)  # a malformed key is never pinned
        self._pin(KNOWN_LOGS, server_id(url), [note_verifier_key, vrf])
        return True

    def pinned_promise_key(self, url: str) -> str | None:
        """The pinned verifier key of the log's promises at ``url``."""
        fields = self._pins(KNOWN_PROMISE_KEYS).get(server_id(url))
        if fields is None:
            return None
        try:
            parse_verifier_key(fields[0])
        except NoteError:
            path = self.root / KNOWN_PROMISE_KEYS
            raise StoreError(f"{path}: the key of {server_id(url)} is malformed") from None
        return fields[0]

    def pin_promise_key(self, url: str, verifier_key: str) -> bool:
        """Pin the promise verifier key of the log at ``url``; True if it was new.

        Raises ``PinMismatchError`` if another key is pinned for it.
        """
        pinned = self.pinned_promise_key(url)
        if pinned is not None:
            if pinned == verifier_key:
                return False
            raise PinMismatchError(
                f"THE PROMISE KEY OF {server_id(url)} HAS CHANGED: pinned {pinned}, the server "
                f"now sends {verifier_key}. If its operator announced a new key, delete the "
                f"line of {server_id(url)} in {self.root / KNOWN_PROMISE_KEYS}"
            )
        parse_verifier_key(verifier_key)  # a malformed key is never pinned
        self._pin(KNOWN_PROMISE_KEYS, server_id(url), [verifier_key])
        return True

    # --- promises held (rs monitor and rs log audit check them) --------------------------

    def _promise_lines(self) -> list[tuple[str, str, str]]:
        path = self.root / PROMISES
        lines = []
        for number, line in enumerate((_read(path) or b"").decode("utf-8").splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 3:
                raise StoreError(f"{path} line {number} is malformed")
            lines.append((fields[0], fields[1], fields[2]))
        return lines

    def promise_keep(self, url: str, promise: str) -> None:
        """Keep ``promise`` (a signed note, as a write answered it) of the log at ``url`` until
        ``promises_settle`` says it was kept."""
        note = base64.b64encode(promise.encode("utf-8")).decode("ascii")
        digest = hashlib.sha256(promise.encode("utf-8")).hexdigest()
        if any(kept == digest for _, kept, _ in self._promise_lines()):
            return
        self._pin(PROMISES, server_id(url), [digest, note])

    def promises_held(self, url: str) -> list[str]:
        """The promises of the log at ``url`` not yet seen kept, oldest first."""
        server = server_id(url)
        held = []
        for owner, _, note in self._promise_lines():
            if owner == server:
                try:
                    held.append(base64.b64decode(note, validate=True).decode("utf-8"))
                except (binascii.Error, ValueError, UnicodeDecodeError):
                    raise StoreError(f"{self.root / PROMISES}: a promise is malformed") from None
        return held

    def promises_settle(self, url: str, kept: Iterable[str]) -> None:
        """Forget the promises ``kept`` of the log at ``url`` (seen in a checkpoint)."""
        server = server_id(url)
        digests = {hashlib.sha256(p.encode("utf-8")).hexdigest() for p in kept}
        lines = [
            line for line in self._promise_lines() if line[0] != server or line[1] not in digests
        ]
        self._save(self.root / PROMISES, "".join(" ".join(f) + "\n" for f in lines).encode())

    def pinned_root(self, url: str) -> x509.Certificate | None:
        """The pinned CA root of the server at ``url``."""
        fields = self._pins(KNOWN_ROOTS).get(server_id(url))
        if fields is None:
            return None
        try:
            return x509.load_der_x509_certificate(base64.b64decode(fields[0], validate=True))
        except (binascii.Error, ValueError):
            path = self.root / KNOWN_ROOTS
            raise StoreError(f"{path}: the root of {server_id(url)} is malformed") from None

    def pin_root(self, url: str, root: x509.Certificate) -> bool:
        """Pin the CA root of the server at ``url``; True if it was new.

        Raises ``PinMismatchError`` if another root is pinned for it.
        """
        der = root.public_bytes(serialization.Encoding.DER)
        pinned = self.pinned_root(url)
        if pinned is not None:
            if pinned.public_bytes(serialization.Encoding.DER) == der:
                return False
            old = pinned.fingerprint(hashes.SHA256()).hex()
            new = root.fingerprint(hashes.SHA256()).hex()
            raise PinMismatchError(
                f"THE CA ROOT OF {server_id(url)} HAS CHANGED: pinned SHA-256 {old}, the server "
                f"now sends {new}. If its operator announced a new root, delete the line of "
                f"{server_id(url)} in {self.root / KNOWN_ROOTS}"
            )
        self._pin(KNOWN_ROOTS, server_id(url), [base64.b64encode(der).decode()])
        return True

    def _server_file(self, folder: str, url: str, suffix: str = "") -> Path:
        return self.root / folder / (quote(server_id(url), safe="") + suffix)

    def policy_path(self, url: str) -> Path:
        """The file of the witness policy pinned for the server at ``url``."""
        return self._server_file(WITNESS_POLICIES, url)

    def pinned_policy(self, url: str) -> str | None:
        """The witness policy pinned for the server at ``url``, as ``format_policy`` writes it."""
        path = self.policy_path(url)
        raw = _read(path)
        if raw is None:
            return None
        try:
            return format_policy(parse_policy(raw.decode("utf-8")))
        except (UnicodeDecodeError, PolicyError) as exc:
            raise StoreError(f"{path} is not a witness policy: {exc}") from None

    def pin_policy(self, url: str, policy: str, *, replace: bool = False) -> bool:
        """Pin the witness policy of the server at ``url``; True if it was new.

        Policies are compared as ``format_policy`` writes them (comments and spacing aside).
        Raises ``PinMismatchError`` if another one is pinned for it, unless ``replace``.
        """
        text = format_policy(parse_policy(policy))  # a malformed policy is never pinned
        pinned = self.pinned_policy(url)
        if pinned == text:
            return False
        if pinned is not None and not replace:
            path = self.policy_path(url)
            raise PinMismatchError(
                f"THE WITNESS POLICY OF {server_id(url)} HAS CHANGED: pinned "
                f"{policy_summary(parse_policy(pinned))}, the server now serves "
                f"{policy_summary(parse_policy(text))}. "
                f"Someone may be trying to drop the witnesses that would expose a forked log; "
                f"if its operator announced the new policy, delete {path} to pin it"
            )
        self._save(self.policy_path(url), text.encode("utf-8"))
        return True

    def pinned_tree(self, url: str) -> bytes | None:
        """The newest signed checkpoint kept of the log of the server at ``url``."""
        return _read(self._server_file(TREES, url))

    def pin_tree(self, url: str, note: bytes) -> None:
        """Keep ``note`` as the newest signed checkpoint of the server's log (verified, and
        checked to extend the one kept before, by the caller: ``resolution.client.trees``)."""
        self._save(self._server_file(TREES, url), note)

    def split_view_save(self, url: str, pinned: bytes, shown: bytes) -> Path:
        """Keep two signed checkpoints of the server's log that do not fit one history (the
        proof of a split view); return the file."""
        path = self._server_file(TREES, url, ".split-view")
        self._save(path, pinned + b"\n" + shown)
        return path

    # --- API keys and maps ------------------------------------------------------------

    def api_key(self, url: str) -> str | None:
        """The API key kept for the server at ``url`` (``rs login``)."""
        raw = _read(self._server_file(API_KEYS, url))
        if raw is None:
            return None
        return raw.decode("utf-8", "replace").strip() or None

    def api_key_save(self, url: str, api_key: str) -> Path:
        """Keep ``api_key`` for the server at ``url`` (mode 0600); return the file."""
        if not api_key or any(c.isspace() for c in api_key):
            raise StoreError("an API key is one word")
        path = self._server_file(API_KEYS, url)
        self._save(path, api_key.encode("utf-8") + b"\n")
        return path

    def service_map(self, url: str) -> str | None:
        """The map (compact JWS) last kept of the server at ``url``, not verified here."""
        raw = _read(self._server_file(MAPS, url))
        return raw.decode("ascii", "replace").strip() if raw is not None else None

    def service_map_save(self, url: str, token: str) -> Path:
        """Keep the map the server at ``url`` signed (verified by the caller); the file."""
        path = self._server_file(MAPS, url)
        self._save(path, token.encode("ascii") + b"\n")
        return path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
