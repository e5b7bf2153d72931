"""``rs``: the command line of the resolution service, for apps, callers and auditors.

Number holders ``register`` a number (SMS challenge, then a certificate for a key made here),
``publish`` and ``remove`` handlers, sign PASSporTs, ``revoke`` and ``monitor`` the log for
certificates someone else obtained.  Callers ``lookup`` numbers and verify PASSporTs;
auditors ``log audit``.  Keys, certificates and pinned server keys live in the config folder
(``resolution.client.store``).  Every answer is verified before it is shown: lookups against the
log keys pinned on first use, certificates against the CA root pinned likewise.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from resolution import __version__
from resolution.client.api import DEFAULT_TIMEOUT as CLIENT_TIMEOUT
from resolution.client.api import (
    ApiError,
    Client,
    ClientError,
    IssuedCertificate,
    LogKeys,
    NetworkError,
    csr_pem,
    handler_delete_token,
    handler_put_token,
    revoke_token,
)
from resolution.client.audit import DEFAULT_TIMEOUT, DEFAULT_WORKERS, AuditError, audit_log
from resolution.client.monitor import MonitorError, MonitorReport, MonitorState, monitor_log
from resolution.client.store import (
    Credentials,
    PinMismatchError,
    Store,
    StoreError,
    config_dir,
    public_key_sha256,
    server_id,
)
from resolution.protocol import vrf
from resolution.protocol.canonical import CanonicalJSONError, parse_canonical
from resolution.protocol.certificates import (
    CertificateError,
    certificate_chain_verify,
    tn_auth_list_covers,
)
from resolution.protocol.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from resolution.protocol.lookup import LookupVerificationError, VerifiedHandler
from resolution.protocol.merkle import ProofError, leaf_hash, verify_inclusion
from resolution.protocol.note import NoteError, Verifier, parse_verifier_key
from resolution.protocol.passport import (
    PPT_MSG,
    PassportError,
    passport_parse,
    passport_sign,
    passport_verify,
)

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_API: Final = 3
EXIT_NETWORK: Final = 4

SERVICES: Final = ("voice", "video", "messaging", "sip", "sms", "im", "xmpp", "web")
REVOCATION_REASONS: Final = (
    "unspecified",
    "keyCompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
)
LOG_WAIT: Final = 15.0  # seconds to wait for an entry to be in a checkpoint (merge delay <= 10)

EPILOG: Final = """\
environment:
  RS_URL         the service's base URL (--url), e.g. https://rs.example.net
  RS_API_KEY     the provider's API key (--api-key)
  RS_CONFIG_DIR  where keys, certificates and pinned server keys are kept (--config-dir);
                 default $XDG_CONFIG_HOME/rs or ~/.config/rs

exit codes:
  0  success
  1  verification failed: an answer, certificate, log entry or PASSporT did not verify,
     a pinned key changed, or `rs monitor` found a certificate for the number whose key
     is not yours
  2  usage error: bad arguments, no URL or API key, no key stored for the number
  3  the service refused a request (an API error: its status and problem type are shown)
  4  network error: the service could not be reached, or did not answer in time
"""


SEE_HELP: Final = "Exit codes and environment variables: see 'rs --help'."


class CheckError(Exception):
    """Something did not verify: exit 1 with this message."""


class UsageError(Exception):
    """The command cannot run as given: exit 2 with this message."""


# --- Output -----------------------------------------------------------------------------------


def _info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _ProgressBar:
    """``progress(done, total)`` drawn as one line on a terminal: ``[#####.....] 12/40``."""

    WIDTH = 30

    def __init__(self, what: str, stream: TextIO) -> None:
        self.what, self.stream, self.drawn = what, stream, False

    def __call__(self, done: int, total: int) -> None:
        filled = self.WIDTH * done // total if total else self.WIDTH
        bar = "#" * filled + "." * (self.WIDTH - filled)
        percent = 100 * done // total if total else 100
        line = f"\r  {self.what} [{bar}] {percent:3d}% {done}/{total}"
        print(line, end="", file=self.stream, flush=True)
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            print(file=self.stream, flush=True)
            self.drawn = False


def _progress(what: str) -> _ProgressBar | None:
    return _ProgressBar(what, sys.stderr) if sys.stderr.isatty() else None


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


# --- Argument types ---------------------------------------------------------------------------


def _verifier_arg(value: str) -> Verifier:
    if value.startswith("@"):
        try:
            value = Path(value[1:]).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise argparse.ArgumentTypeError(f"cannot read key file {value[1:]}: {exc}") from None
    try:
        return parse_verifier_key(value.strip())
    except NoteError as exc:
        raise argparse.ArgumentTypeError(f"invalid verifier key: {exc}") from None


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive integer")
    return number


def _number_arg(value: str) -> str:
    """An E.164 number: "+", then 2 to 15 digits, the first not 0 (spaces and dashes dropped)."""
    number = "".join(value.replace("-", " ").split())
    if not (number.startswith("+") and number[1:].isdigit() and 2 <= len(number) - 1 <= 15):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an E.164 number: '+', the country code, the number"
        )
    if number[1] == "0":
        raise argparse.ArgumentTypeError(f"{value!r}: no country code starts with 0")
    return number


def _priority_arg(value: str) -> int:
    try:
        priority = int(value)
    except ValueError:
        priority = -1
    if not 0 <= priority <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a priority from 0 to 65535")
    return priority


def _read_input(path: str, what: str) -> bytes:
    """The bytes of ``path``, or of standard input for "-"."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


# --- Parser -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``rs`` argument parser; each feature adds its subcommands here."""
    parser = argparse.ArgumentParser(
        prog="rs",
        description=(
            "Client of the phone-number resolution service: register numbers and publish "
            "their handlers, look numbers up and verify the answers, sign and verify "
            "PASSporTs, monitor and audit the service's transparency log."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rs {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    service = _service_options()
    _add_holder_commands(commands, service)
    _add_lookup_command(commands, service)
    _add_passport_commands(commands, service)
    _add_monitor_command(commands, service)
    _add_log_commands(commands)
    return parser


def _service_options() -> argparse.ArgumentParser:
    """Options of every command that talks to the service (parent parser)."""
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("service")
    group.add_argument("--url", metavar="URL", help="the service's base URL (default: $RS_URL)")
    group.add_argument(
        "--api-key", metavar="KEY", help="the provider's API key (default: $RS_API_KEY)"
    )
    group.add_argument(
        "--config-dir",
        type=Path,
        metavar="DIR",
        help="keys, certificates, pins (default: $RS_CONFIG_DIR or ~/.config/rs)",
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=CLIENT_TIMEOUT,
        metavar="SECONDS",
        help=f"HTTP timeout (default {CLIENT_TIMEOUT:g})",
    )
    return options


Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _command(
    commands: Commands,
    name: str,
    parent: argparse.ArgumentParser,
    handler: Callable[[argparse.Namespace, _Context], int],
    help_text: str,
    description: str,
) -> argparse.ArgumentParser:
    command = commands.add_parser(
        name, parents=[parent], help=help_text, description=description, epilog=SEE_HELP
    )
    command.set_defaults(handler=handler, needs_service=True)
    return command


def _add_holder_commands(commands: Commands, service: argparse.ArgumentParser) -> None:
    register = _command(
        commands,
        "register",
        service,
        _register,
        "prove you hold a number and get its certificate",
        "Make a P-256 key, start an SMS challenge for NUMBER, answer it with the code "
        "(asked for, or --code), send a CSR, and store key and certificate under the config "
        "folder. The certificate's key, TNAuthList and chain to the pinned CA root are "
        "checked, and its entry in the transparency log against the pinned log keys.",
    )
    register.add_argument("number", type=_number_arg, metavar="NUMBER", help="E.164, +33612345678")
    register.add_argument("--code", metavar="DIGITS", help="the code from the SMS")

    publish = _command(
        commands,
        "publish",
        service,
        _publish,
        "publish (or replace) a handler of a number",
        "Publish, signed with the number's stored key, that your provider handles SERVICE "
        "for NUMBER at URI. It replaces your provider's handler of that service.",
    )
    publish.add_argument("number", type=_number_arg, metavar="NUMBER")
    publish.add_argument("service", metavar="SERVICE", help=", ".join(SERVICES))
    publish.add_argument("uri", metavar="URI", help="e.g. sip:alice@chat.example")
    publish.add_argument(
        "--priority", type=_priority_arg, default=0, help="0-65535, lower first (default 0)"
    )
    publish.add_argument(
        "--visible-to",
        nargs="+",
        metavar="PROVIDER",
        help="only these providers (slugs) see it (default: every provider)",
    )

    remove = _command(
        commands,
        "remove",
        service,
        _remove,
        "remove a handler of a number",
        "Remove your provider's handler of SERVICE for NUMBER (signed with its stored key).",
    )
    remove.add_argument("number", type=_number_arg, metavar="NUMBER")
    remove.add_argument("service", metavar="SERVICE")

    revoke = _command(
        commands,
        "revoke",
        service,
        _revoke,
        "revoke the number's certificate",
        "Revoke the stored certificate of NUMBER (signed with its own key). The service "
        "removes the handlers it authorised.",
    )
    revoke.add_argument("number", type=_number_arg, metavar="NUMBER")
    revoke.add_argument(
        "--reason", choices=REVOCATION_REASONS, help="RFC 5280 reason (default: unspecified)"
    )


def _add_lookup_command(commands: Commands, service: argparse.ArgumentParser) -> None:
    lookup = _command(
        commands,
        "lookup",
        service,
        _lookup,
        "look a number up, and verify the answer",
        "Look NUMBER up and print its handlers, only after the answer verified against "
        "the log keys pinned for the service (its VRF label, the signed checkpoint, every "
        "commitment and inclusion proof).",
    )
    lookup.add_argument("number", type=_number_arg, metavar="NUMBER")
    lookup.add_argument("--service", metavar="SERVICE", help="only this service")
    lookup.add_argument("--json", action="store_true", help="print JSON, for scripts")


def _add_passport_commands(commands: Commands, service: argparse.ArgumentParser) -> None:
    passport = commands.add_parser(
        "passport",
        help="sign and verify PASSporTs (RFC 8225)",
        description="Sign PASSporTs with a number's stored key, and verify them.",
    )
    passport_commands = passport.add_subparsers(
        dest="passport_command", metavar="PASSPORT_COMMAND", required=True
    )
    sign = _command(
        passport_commands,
        "sign",
        service,
        _passport_sign,
        "sign a PASSporT for a call or a message",
        "Print a PASSporT from --from to --to, signed with the stored key of --from. With "
        '--msg, a "msg" PASSporT (RFC 9475) protecting the message body in FILE.',
    )
    sign.add_argument("--from", dest="orig", type=_number_arg, required=True, metavar="NUMBER")
    sign.add_argument(
        "--to", dest="dest", type=_number_arg, required=True, action="append", metavar="NUMBER"
    )
    sign.add_argument("--msg", metavar="FILE", help="the message body ('-': standard input)")

    verify = _command(
        passport_commands,
        "verify",
        service,
        _passport_verify,
        "verify a PASSporT",
        "Have the service verify TOKEN (POST /v1/passports/verify), or with --offline verify "
        "it here against the CA root pinned for the service and its current CRL.",
    )
    verify.add_argument("token", metavar="TOKEN", help="the compact PASSporT ('-': standard input)")
    verify.add_argument("--body", metavar="FILE", help='the message body of a "msg" PASSporT')
    verify.add_argument("--offline", action="store_true", help="verify here, not by the service")
    verify.add_argument("--json", action="store_true", help="print JSON, for scripts")


def _add_monitor_command(commands: Commands, service: argparse.ArgumentParser) -> None:
    monitor = _command(
        commands,
        "monitor",
        service,
        _monitor,
        "watch the log for changes to a number, and certificates you did not ask for",
        "Read the log entries appended since the last run (all of them the first time), "
        "check they hash to the signed checkpoint, and report every certificate and handler "
        "change under NUMBER's label. A certificate whose key was not made here (someone "
        "else answered an SMS challenge for the number) makes it exit 1, run after run, "
        "until it is revoked or expires, or you --accept it.",
    )
    monitor.add_argument("number", type=_number_arg, metavar="NUMBER")
    monitor.add_argument(
        "--accept",
        action="append",
        default=[],
        metavar="SERIAL",
        help="a certificate with another key that is yours after all (repeatable)",
    )
    monitor.add_argument(
        "--workers",
        type=_positive_int,
        default=DEFAULT_WORKERS,
        metavar="N",
        help=f"parallel downloads (default {DEFAULT_WORKERS})",
    )
    monitor.add_argument("--json", action="store_true", help="print JSON, for scripts")


def _add_log_commands(commands: Commands) -> None:
    log = commands.add_parser(
        "log",
        help="check the service's transparency log",
        description="Check the service's append-only transparency log (C2SP tlog-tiles).",
    )
    log_commands = log.add_subparsers(dest="log_command", metavar="LOG_COMMAND", required=True)
    audit = log_commands.add_parser(
        "audit",
        help="download the whole log and recompute its Merkle tree",
        description=(
            "Download every entry of the log at URL, check each one, recompute the Merkle tree "
            "and compare it with the signed checkpoint and every hash tile. With --state, "
            "check only what was appended since the last audit, and that the log is consistent "
            "with it."
        ),
    )
    audit.add_argument("url", metavar="URL", help="the log's base URL, e.g. https://host/log/")
    audit.add_argument(
        "--key",
        required=True,
        type=_verifier_arg,
        metavar="VERIFIER",
        help="the log's note verifier key <name>+<id>+<key>, or @FILE to read it from FILE",
    )
    audit.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="audit state: read if it exists, replaced after a successful audit",
    )
    audit.add_argument(
        "--workers",
        type=_positive_int,
        default=DEFAULT_WORKERS,
        metavar="N",
        help=f"parallel downloads (default {DEFAULT_WORKERS})",
    )
    audit.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"HTTP timeout (default {DEFAULT_TIMEOUT:g})",
    )
    audit.set_defaults(handler=_log_audit, needs_service=False)


# --- The service, its pinned keys and the store -----------------------------------------------


@dataclass
class _Context:
    """What a command works with: the store, and the service (connected on first use)."""

    store: Store
    given_url: str | None
    api_key: str | None
    timeout: float
    _client: Client | None = None

    @property
    def url(self) -> str:
        if not self.given_url:
            raise UsageError("no service URL: set RS_URL or pass --url")
        if not self.given_url.startswith(("http://", "https://")):
            raise UsageError(f"{self.given_url!r} is not an http(s) URL")
        return self.given_url.rstrip("/")

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.url, self.api_key, timeout=self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def log_keys(self) -> LogKeys:
        """The log keys pinned for the service; fetched and pinned on first use."""
        pinned = self.store.pinned_log(self.url)
        if pinned is not None:
            verifier = parse_verifier_key(pinned[0])
            return LogKeys(verifier.name, pinned[0], "ECVRF-EDWARDS25519-SHA512-TAI", pinned[1])
        keys = self.client.log_key()
        try:
            verifier = parse_verifier_key(keys.note_verifier_key)
        except NoteError as exc:
            raise CheckError(f"the service's log key is malformed: {exc}") from None
        if verifier.name != keys.origin:
            raise CheckError(
                f"the service's log key is named {verifier.name!r}, not its origin {keys.origin!r}"
            )
        self.store.pin_log(self.url, keys.note_verifier_key, keys.vrf_public_key)
        _info(
            f"pinned the log keys of {self.url}: {keys.note_verifier_key} (compare it with "
            f"the key its operator publishes)"
        )
        return keys

    def key_change_check(self) -> None:
        """After a verification with the pinned log keys failed: raise ``PinMismatchError``
        if the service now presents other keys, so that the failure is named for what it is."""
        try:
            keys = self.client.log_key()
        except ClientError:
            return  # the verification failure is reported as it is
        pinned = self.store.pinned_log(self.url)
        if pinned is not None and pinned != (keys.note_verifier_key, keys.vrf_public_key):
            self.store.pin_log(self.url, keys.note_verifier_key, keys.vrf_public_key)  # raises

    def ca_root(self) -> x509.Certificate:
        """The CA root pinned for the service; fetched and pinned on first use."""
        pinned = self.store.pinned_root(self.url)
        if pinned is not None:
            return pinned
        root = self.client.ca_root()
        self.store.pin_root(self.url, root)
        fingerprint = root.fingerprint(hashes.SHA256()).hex()
        _info(f"pinned the CA root of {self.url}: SHA-256 {fingerprint}")
        return root

    def checkpoint(self, keys: LogKeys) -> tuple[Checkpoint, bytes] | None:
        """The latest checkpoint, verified with the pinned note key; ``None`` for an empty log."""
        note = self.client.log_checkpoint()
        if note is None:
            return None
        verifier = parse_verifier_key(keys.note_verifier_key)
        try:
            return open_checkpoint(note, verifier, verifier.name), note
        except CheckpointError as exc:
            self.key_change_check()
            raise CheckError(f"the log's checkpoint does not verify: {exc}") from None

    def label(self, number: str, keys: LogKeys) -> bytes:
        """The number's label, its VRF proof checked with the pinned VRF key (RFC 9381 §5.3)."""
        answer = self.client.log_label(number)
        try:
            beta = vrf.verify(keys.vrf_public_key, answer.vrf_proof, number.encode("ascii"))
        except vrf.VRFError as exc:
            self.key_change_check()
            raise CheckError(f"the label of {number} does not verify: {exc}") from None
        if answer.number != number or beta != answer.label:
            raise CheckError(f"the service's label is not the VRF output for {number}")
        return beta


def _context(args: argparse.Namespace) -> _Context:
    return _Context(
        store=Store(args.config_dir or config_dir()),
        given_url=args.url or os.environ.get("RS_URL") or None,
        api_key=args.api_key or os.environ.get("RS_API_KEY") or None,
        timeout=args.timeout,
    )


def _needs_api_key(ctx: _Context) -> None:
    """Calls to the API need the service's URL (checked first), then an API key."""
    if ctx.url and not ctx.api_key:
        raise UsageError("no API key: set RS_API_KEY or pass --api-key")


def _credentials(ctx: _Context, number: str) -> Credentials:
    credentials = ctx.store.credentials(number)
    if credentials.revoked:
        raise UsageError(
            f"the certificate {credentials.serial} of {number} is revoked: "
            f"run 'rs register {number}' for a new one"
        )
    return credentials


# --- register -----------------------------------------------------------------------------------


def _ask_code(number: str) -> str:
    print(f"code from the SMS sent to {number}: ", end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        raise UsageError(f"no code given: answer with 'rs register {number} --code CODE'")
    return line.strip()


def _answer(ctx: _Context, challenge_id: str, code: str) -> None:
    """Answer the challenge; one already verified (an earlier run stopped later) is fine."""
    try:
        ctx.client.challenge_verify(challenge_id, code)
    except ApiError as exc:
        if exc.slug != "challenge-already-verified":
            raise


def _register(args: argparse.Namespace, ctx: _Context) -> int:
    number: str = args.number
    _needs_api_key(ctx)
    ctx.store.number_dir(number)
    keys = ctx.log_keys()
    root = ctx.ca_root()
    if args.code is not None:
        # The second step: the code of the challenge the first step started.
        pending = ctx.store.pending(number)
        if pending is None or pending.server != server_id(ctx.url):
            raise UsageError(
                f"no challenge is pending for {number} at {ctx.url}: run "
                f"'rs register {number}' first, then answer it with --code"
            )
        key, challenge_id = pending.key, pending.challenge_id
        _answer(ctx, challenge_id, args.code)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        challenge = ctx.client.challenge_start(number)
        challenge_id = challenge.id
        # Kept before anything else: a certificate for this key is ours even if we stop.
        ctx.store.pending_save(
            number,
            key=key,
            challenge_id=challenge_id,
            expires_at=challenge.expires_at.isoformat(),
            server=ctx.url,
        )
        expiry = f"{challenge.expires_at:%H:%M:%S %Z}"
        if sys.stdin is None or not sys.stdin.isatty():
            print(
                f"code sent by SMS to {number}, valid until {expiry}: finish with "
                f"'rs register {number} --code CODE'"
            )
            return EXIT_OK
        _info(f"code sent by SMS to {number}; it is valid until {expiry}")
        while True:
            try:
                _answer(ctx, challenge_id, _ask_code(number))
                break
            except ApiError as exc:
                left = exc.extensions.get("attempts_left")
                if exc.slug != "challenge-code-wrong" or not left:
                    raise
                _info(f"wrong code; {left} attempts left")
    issued = ctx.client.certificate_issue(challenge_id, csr_pem(key))
    certificate = _certificate_check(number, key, issued, root)
    ctx.store.credentials_save(
        number,
        key=key,
        certificate_pem=issued.certificate,
        chain_pems=issued.chain,
        serial=issued.serial,
        x5u=issued.x5u,
        server=ctx.url,
    )
    size = _certificate_logged(ctx, keys, number, key, issued, certificate)
    folder = ctx.store.number_dir(number)
    print(
        f"registered {number}: certificate {issued.serial}, valid until "
        f"{issued.not_after:%Y-%m-%d %H:%M %Z}\n"
        f"  verified: key, TNAuthList and chain to the pinned CA root\n"
        f"  verified: log entry {issued.log.index} in the signed checkpoint of size {size}\n"
        f"  stored in {folder}"
    )
    return EXIT_OK


def _certificate_check(
    number: str, key: ec.EllipticCurvePrivateKey, issued: IssuedCertificate, root: x509.Certificate
) -> x509.Certificate:
    """The issued certificate, checked: our key, the number, a path to the pinned root."""
    try:
        certificate = issued.x509()
        chain = [x509.load_pem_x509_certificate(pem.encode("ascii")) for pem in issued.chain]
    except ValueError as exc:
        raise CheckError(f"the certificate issued is not PEM: {exc}") from None
    public = certificate.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or public_key_sha256(
        public
    ) != public_key_sha256(key):
        raise CheckError(f"certificate {issued.serial} is not for the key made here")
    try:
        if not tn_auth_list_covers(certificate, number):
            raise CheckError(f"certificate {issued.serial}'s TNAuthList does not cover {number}")
        certificate_chain_verify(certificate, chain, [root], at=datetime.now(UTC))
    except CertificateError as exc:
        raise CheckError(f"certificate {issued.serial} does not verify: {exc}") from None
    return certificate


def _certificate_logged(
    ctx: _Context,
    keys: LogKeys,
    number: str,
    key: ec.EllipticCurvePrivateKey,
    issued: IssuedCertificate,
    certificate: x509.Certificate,
) -> int:
    """Check the certificate's log entry and that a signed checkpoint includes it; return
    that checkpoint's size."""
    index = issued.log.index
    label = ctx.label(number, keys)
    deadline = time.monotonic() + LOG_WAIT
    while True:  # the entry is in a checkpoint within the merge delay
        found = ctx.checkpoint(keys)
        if found is not None and found[0].size > index:
            checkpoint = found[0]
            break
        if time.monotonic() > deadline:
            raise CheckError(f"log entry {index} is in no checkpoint after {LOG_WAIT:g} s")
        time.sleep(0.5)
    page = ctx.client.log_entries(index, index + 1)
    if len(page.entries) != 1 or page.entries[0].index != index:
        raise CheckError(f"the log does not serve entry {index}")
    entry = page.entries[0].entry
    if leaf_hash(entry) != issued.log.leaf_hash:
        raise CheckError(f"log entry {index} is not the one the certificate's answer names")
    proof = ctx.client.log_inclusion_proof(index, checkpoint.size)
    try:
        verify_inclusion(
            leaf_hash(entry), index, checkpoint.size, proof.proof, checkpoint.root_hash
        )
    except ProofError as exc:
        raise CheckError(f"log entry {index} is not in the signed checkpoint: {exc}") from None
    try:
        record = parse_canonical(entry)
    except CanonicalJSONError as exc:
        raise CheckError(f"log entry {index} is not canonical JSON: {exc}") from None
    der = certificate.public_bytes(serialization.Encoding.DER)
    expected = {
        "v": 1,
        "kind": "certificate",
        "label": label.hex(),
        "serial": issued.serial,
        "certificate_sha256": hashlib.sha256(der).hexdigest(),
        "public_key_sha256": public_key_sha256(key).hex(),
    }
    wrong = [name for name, value in expected.items() if record.get(name) != value]
    if wrong:
        raise CheckError(f"log entry {index} does not match the certificate: {', '.join(wrong)}")
    return checkpoint.size


# --- publish, remove, revoke --------------------------------------------------------------------


def _publish(args: argparse.Namespace, ctx: _Context) -> int:
    _needs_api_key(ctx)
    credentials = _credentials(ctx, args.number)
    visibility: str | list[str] = args.visible_to or "all"
    token = handler_put_token(
        credentials.key,
        credentials.serial,
        number=args.number,
        service=args.service,
        uri=args.uri,
        priority=args.priority,
        visibility=visibility,
    )
    handler = ctx.client.handler_put(args.number, args.service, token)
    shown = (
        handler.visibility if isinstance(handler.visibility, str) else ", ".join(handler.visibility)
    )
    print(
        f"published {handler.service} for {handler.number}: {handler.uri} "
        f"(priority {handler.priority}, visible to {shown}, by {handler.provider}); "
        f"log entry {handler.log.index}"
    )
    return EXIT_OK


def _remove(args: argparse.Namespace, ctx: _Context) -> int:
    _needs_api_key(ctx)
    credentials = _credentials(ctx, args.number)
    token = handler_delete_token(
        credentials.key, credentials.serial, number=args.number, service=args.service
    )
    removed = ctx.client.handler_delete(args.number, args.service, token)
    print(
        f"removed {removed.service} of {removed.number} (by {removed.provider}); "
        f"log entry {removed.log.index}"
    )
    return EXIT_OK


def _revoke(args: argparse.Namespace, ctx: _Context) -> int:
    _needs_api_key(ctx)
    credentials = _credentials(ctx, args.number)
    token = revoke_token(credentials.key, credentials.serial, reason=args.reason)
    state = ctx.client.certificate_revoke(credentials.serial, token)
    ctx.store.mark_revoked(args.number)
    print(
        f"revoked certificate {state.serial} of {args.number} "
        f"({state.revocation_reason}); its handlers are removed; "
        f"log entry {state.revocation_log_index}"
    )
    return EXIT_OK


# --- lookup -------------------------------------------------------------------------------------


def _handler_json(handler: VerifiedHandler) -> dict[str, Any]:
    return {
        "provider": handler.provider,
        "service": handler.service,
        "uri": handler.uri,
        "priority": handler.priority,
        "expires_at": handler.expires_at,
        "certificate": handler.certificate,
        "log_index": handler.log_index,
    }


def _lookup(args: argparse.Namespace, ctx: _Context) -> int:
    _needs_api_key(ctx)
    keys = ctx.log_keys()
    answer = ctx.client.number_lookup(args.number, args.service)
    try:
        verified = answer.verify(keys)
        if verified.number != args.number:
            raise LookupVerificationError(f"the answer is for {verified.number}")
    except LookupVerificationError as exc:
        ctx.key_change_check()
        if args.json:
            print(json.dumps({"number": args.number, "verified": False, "error": str(exc)}))
        raise CheckError(f"the answer for {args.number} does not verify: {exc}") from None
    checkpoint = verified.checkpoint
    if args.json:
        document = {
            "number": verified.number,
            "verified": True,
            "label": verified.label.hex(),
            "checkpoint": None
            if checkpoint is None
            else {
                "origin": checkpoint.origin,
                "size": checkpoint.size,
                "root_hash": base64.b64encode(checkpoint.root_hash).decode(),
            },
            "handlers": [_handler_json(h) for h in verified.handlers],
            "pending": [_handler_json(h) for h in verified.pending],
        }
        print(json.dumps(document, indent=2))
        return EXIT_OK
    where = (
        "no checkpoint yet"
        if checkpoint is None
        else (f"checkpoint {checkpoint.origin} of size {checkpoint.size}")
    )
    lines = [f"{verified.number}: verified against {where}"]
    ordered = sorted(verified.handlers, key=lambda h: (h.service, h.priority, h.provider))
    for handler in ordered:
        lines.append(
            f"  {handler.service:<10} {handler.uri}  priority {handler.priority}, by "
            f"{handler.provider}, until {handler.expires_at} (log entry {handler.log_index})"
        )
    for handler in verified.pending:
        lines.append(
            f"  {handler.service:<10} {handler.uri}  priority {handler.priority}, by "
            f"{handler.provider}: PENDING, logged but in no checkpoint yet; look up again"
        )
    if not verified.handlers and not verified.pending:
        lines.append("  no handlers")
    print("\n".join(lines))
    return EXIT_OK


# --- passports ----------------------------------------------------------------------------------


def _passport_sign(args: argparse.Namespace, ctx: _Context) -> int:
    credentials = _credentials(ctx, args.orig)
    body = _read_input(args.msg, "message body") if args.msg is not None else None
    try:
        token = passport_sign(
            credentials.key,
            x5u=credentials.x5u,
            orig=args.orig[1:],  # RFC 8224 §8.3: digits, no "+"
            dest=[number[1:] for number in args.dest],
            iat=int(time.time()),
            ppt=PPT_MSG if body is not None else None,
            body=body,
        )
    except PassportError as exc:
        raise UsageError(f"cannot sign this PASSporT: {exc}") from None
    print(token)
    return EXIT_OK


def _token_arg(value: str) -> str:
    token = sys.stdin.read() if value == "-" else value
    return token.strip()


def _passport_verify(args: argparse.Namespace, ctx: _Context) -> int:
    token = _token_arg(args.token)
    body = _read_input(args.body, "message body") if args.body is not None else None
    if args.offline:
        return _passport_verify_offline(args, ctx, token, body)
    _needs_api_key(ctx)
    verdict = ctx.client.passport_verify(token, body)
    if args.json:
        document = {
            "verdict": verdict.verdict,
            "reasons": list(verdict.reasons),
            "passport": None if verdict.passport is None else asdict(verdict.passport),
            "certificate": None if verdict.certificate is None else asdict(verdict.certificate),
        }
        print(json.dumps(document, indent=2, default=str))
    elif verdict.valid:
        passport, signer = verdict.passport, verdict.certificate
        claims = (
            ""
            if passport is None
            else (
                f": {passport.orig} -> {', '.join(passport.dest + passport.dest_uri)}"
                f"{' (msg)' if passport.ppt == PPT_MSG else ''}, signed at "
                f"{datetime.fromtimestamp(passport.iat, UTC):%Y-%m-%d %H:%M:%S %Z}"
            )
        )
        by = "" if signer is None else f", by certificate {signer.serial}"
        print(f"valid{claims}{by} (verified by {ctx.url})")
    else:
        print(f"invalid: {', '.join(verdict.reasons) or 'no reason given'}")
    return EXIT_OK if verdict.valid else EXIT_FAILED


def _passport_verify_offline(
    args: argparse.Namespace, ctx: _Context, token: str, body: bytes | None
) -> int:
    root = ctx.ca_root()
    try:
        passport = passport_parse(token)
    except PassportError as exc:
        return _offline_verdict(args, "invalid", [exc.reason], str(exc))
    chain = ctx.client.x5u_chain(passport.x5u)
    crl = ctx.client.ca_crl()
    try:
        verified = passport_verify(
            token,
            chain=chain,
            roots=[root],
            at=datetime.now(UTC),
            crls=[crl],
            crl_required=True,
            body=body,
        )
    except PassportError as exc:
        return _offline_verdict(args, "invalid", [exc.reason], str(exc))
    leaf = verified.chain[0]
    p = verified.passport
    detail = (
        f"+{p.orig} -> {', '.join(['+' + tn for tn in p.dest] + list(p.dest_uri))}"
        f"{' (msg)' if p.ppt == PPT_MSG else ''}, by certificate {leaf.serial_number:032x}"
    )
    return _offline_verdict(args, "valid", [], detail)


def _offline_verdict(
    args: argparse.Namespace, verdict: str, reasons: list[str], detail: str
) -> int:
    if args.json:
        print(json.dumps({"verdict": verdict, "reasons": reasons, "detail": detail}, indent=2))
    elif verdict == "valid":
        print(f"valid: {detail} (verified here against the pinned CA root)")
    else:
        print(f"invalid: {', '.join(reasons)}: {detail}")
    return EXIT_OK if verdict == "valid" else EXIT_FAILED


# --- monitor ------------------------------------------------------------------------------------


def _monitor(args: argparse.Namespace, ctx: _Context) -> int:
    number: str = args.number
    own_keys = ctx.store.own_public_keys(number)
    if not own_keys:
        raise UsageError(
            f"no key of {number} was made in {ctx.store.root}: every certificate would look "
            f"foreign; run 'rs register {number}' here, or monitor where you registered"
        )
    keys = ctx.log_keys()
    saved = ctx.store.monitor_state(number)
    previous = MonitorState.from_json(saved) if saved is not None else None
    if previous is not None:
        label = previous.label
    else:
        _needs_api_key(ctx)
        label = ctx.label(number, keys)
    found = ctx.checkpoint(keys)
    if found is None:
        print(f"monitor {number}: the log is empty")
        return EXIT_OK
    checkpoint, note = found
    bar = _progress("entries scanned")
    try:
        report = monitor_log(
            checkpoint=checkpoint,
            note=note,
            label=label,
            own_keys=own_keys,
            fetch=ctx.client.log_entry_bundle,
            previous=previous,
            accept=args.accept,
            workers=args.workers,
            progress=bar,
        )
    finally:
        if bar is not None:
            bar.close()
    ctx.store.monitor_state_save(number, report.state.to_json())
    _monitor_print(args, number, report)
    return EXIT_FAILED if report.flagged else EXIT_OK


def _monitor_print(args: argparse.Namespace, number: str, report: MonitorReport) -> None:
    if args.json:
        document = {
            "number": number,
            "from": report.previous_size,
            "size": report.size,
            "flagged": report.flagged,
            "changes": [
                {
                    "index": c.index,
                    "kind": c.kind,
                    "provider": c.provider,
                    "serial": c.serial,
                    "service": c.service,
                    "reason": c.reason,
                    "not_after": c.not_after,
                    "foreign": c.foreign,
                }
                for c in report.changes
            ],
            "outstanding": [asdict(f) for f in report.outstanding],
        }
        print(json.dumps(document, indent=2))
        return
    new = report.size - report.previous_size
    lines = [
        f"monitor {number}: log entries {report.previous_size}-{report.size - 1} checked "
        f"({new} new), they hash to the signed checkpoint",
    ]
    if new == 0:
        lines[0] = f"monitor {number}: no new log entries (tree size {report.size})"
    lines += [f"  entry {c.index}: {c.describe()}" for c in report.changes]
    if not report.changes and new:
        lines.append("  no changes for this number")
    print("\n".join(lines))
    for foreign in report.outstanding:
        _info(
            f"rs monitor: ALERT: certificate {foreign.serial} for {number} (log entry "
            f"{foreign.index}, by {foreign.provider}, until {foreign.not_after}) holds a key "
            f"that is not yours: someone else answered an SMS challenge for the number. Ask "
            f"the service to revoke it; if it is yours after all, run "
            f"'rs monitor {number} --accept {foreign.serial}'"
        )


# --- log audit ----------------------------------------------------------------------------------


def _log_audit(args: argparse.Namespace) -> int:
    progress = _progress("entries checked")
    try:
        report = audit_log(
            args.url,
            args.key,
            state_path=args.state,
            workers=args.workers,
            timeout=args.timeout,
            progress=progress,
        )
    except AuditError as exc:
        if progress is not None:
            progress.close()
        print(f"audit FAILED: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if progress is not None:
        progress.close()
    kinds = ", ".join(f"{kind} {count}" for kind, count in report.kinds.items()) or "none"
    lines = [
        f"audit OK: {report.origin}",
        f"  tree size  {report.size}",
        f"  root hash  {base64.b64encode(report.root_hash).decode()}",
        f"  checked    {report.entries_checked} entries, {report.tiles_checked} hash tiles",
        f"  kinds      {kinds}",
        f"  time       {report.seconds:.1f} s",
    ]
    if report.previous_size is not None:
        lines.append(f"  consistent with previous checkpoint of size {report.previous_size}")
    if args.state is not None:
        lines.append(f"  state saved to {args.state}")
    print("\n".join(lines))
    return EXIT_OK


# --- main ---------------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    if not args.needs_service:
        return int(args.handler(args))
    ctx = _context(args)
    try:
        return int(args.handler(args, ctx))
    finally:
        ctx.close()


# The exit code of each failure, the first that matches (subclasses before their bases).
_EXIT_CODES: Final[tuple[tuple[type[Exception], int], ...]] = (
    (PinMismatchError, EXIT_FAILED),
    (CheckError, EXIT_FAILED),
    (MonitorError, EXIT_FAILED),
    (UsageError, EXIT_USAGE),
    (StoreError, EXIT_USAGE),
    (NetworkError, EXIT_NETWORK),
    (ApiError, EXIT_API),
    (ClientError, EXIT_API),  # ResponseError: an answer the API does not document
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rs`` console script; returns the exit code (see ``EPILOG``).

    Errors are reported as one line on standard error, ``rs <command>: <what failed>``.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    name = " ".join(
        part for part in (args.command, getattr(args, "passport_command", None)) if part
    )
    try:
        return _run(args)
    except tuple(kind for kind, _ in _EXIT_CODES) as exc:
        code = next(code for kind, code in _EXIT_CODES if isinstance(exc, kind))
        print(f"rs {name}: {_one_line(exc)}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print(f"rs {name}: interrupted", file=sys.stderr)
        return 130
