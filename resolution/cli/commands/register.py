"""``rs register NUMBER [--code DIGITS | --resume]``: prove you hold a number, and get its
certificate.

The first run makes a P-256 key and starts an SMS challenge; the code is asked for on a
terminal, or given to a second run with ``--code``.  The certificate issued is checked (its
key, TNAuthList and chain to the pinned CA root) before it is stored, and its log entry
against the pinned log keys (``resolution.client.verify``).

Registering a number whose certificate is stored here (valid: not revoked, not expired) renews
it: the request is signed with that certificate's key, so that its handlers and its lock pass
to the new certificate in the same call (nothing to publish again). The new certificate is for
the same key, or with ``--new-key`` for a new one. ``rs renew`` is the same, for one number or
every number stored here whose certificate ends soon.

When another holder has locked the number (DESIGN §7.2), the service holds the certificate
back as a request that waits for a locked holder's answer, or until its ``issues_at``: the
key and the request are kept, the run exits 5 (``EXIT_PENDING``), and ``--resume`` collects
the certificate once issued (checked and stored as above), or says it was refused.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from resolution.cli import arguments
from resolution.cli.challenge import challenge_answer, challenge_started
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_API, EXIT_OK, EXIT_PENDING, UsageError
from resolution.cli.output import Emit, failure, info, show, show_json, waiting
from resolution.client.api import CertificateRequest, Challenge, IssuedCertificate, csr_pem
from resolution.client.store import Credentials, Pending, StoreError, server_id


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    register = arguments.add_command(
        commands,
        "register",
        service,
        run,
        "prove you hold a number and get its certificate",
        "Make a P-256 key, start an SMS challenge for NUMBER, answer it with the code "
        "(asked for, or --code), send a CSR, and store key and certificate under the config "
        "folder. The certificate's key, TNAuthList and chain to the pinned CA root are "
        "checked, and its entry in the transparency log against the pinned log keys. If "
        "another holder locked the number, the certificate waits for their answer (or the "
        "end of the wait): the run exits 5, and --resume collects it once issued. A number "
        "already registered here is renewed: its handlers and lock pass to the new "
        "certificate, for the stored key or with --new-key a new one.",
        (
            ("rs register +33612345678", "the code is asked for here, from the SMS"),
            (
                "rs register +33612345678 --json; rs register +33612345678 --code 123456 --json",
                "in a script: start, then answer with the code, each result as JSON",
            ),
        ),
    )
    register.add_argument(
        "number", type=arguments.number, metavar="NUMBER", help="E.164, +33612345678"
    )
    step = register.add_mutually_exclusive_group()
    step.add_argument("--code", metavar="DIGITS", help="the code from the SMS")
    step.add_argument(
        "--resume",
        action="store_true",
        help="collect the certificate a number lock held back, once issued",
    )
    register.add_argument(
        "--new-key",
        action="store_true",
        help="renew with a new key rather than the stored one (handlers and lock carry over)",
    )
    arguments.add_json(register)


def run(args: argparse.Namespace, ctx: Context) -> int:
    number: str = args.number
    ctx.needs_api_key()
    ctx.store.number_dir(number)
    ctx.pinned.log_keys()
    ctx.pinned.ca_root()
    emit = show_json if args.json else None
    if args.resume:
        return _resume(ctx, number, emit)
    return register(ctx, number, code=args.code, new_key=args.new_key, emit=emit)


def register(
    ctx: Context,
    number: str,
    *,
    code: str | None,
    new_key: bool,
    ask: Callable[[str, str], str] | None = None,
    command: str = "register",
    emit: Emit | None = None,
) -> int:
    """Register ``number``, or renew its stored certificate (``rs register``, ``rs renew``);
    the code from ``code``, ``ask``, or the terminal.  The outcome is printed, or given to
    ``emit`` as JSON."""
    current = _renewed(ctx, number)
    if code is not None:
        # The second step: the code of the challenge the first step started.
        pending = _pending(ctx, number)
        if pending.request_id is not None:
            raise UsageError(
                f"the challenge for {number} was spent on request {pending.request_id}, which "
                f"a number lock holds back: run 'rs register {number} --resume'"
            )
        key, challenge_id = pending.key, pending.challenge_id
        challenge_answer(ctx, challenge_id, code)
    else:
        if current is not None:
            info(
                f"renewing certificate {current.serial} of {number}: its handlers and lock "
                f"pass to the new one, for "
                + ("a new key" if new_key else "its stored key (--new-key for a new one)")
            )
        reused = current is not None and not new_key
        key = (
            current.key
            if current is not None and reused
            else ec.generate_private_key(ec.SECP256R1())
        )

        def keep(challenge: Challenge) -> None:
            # Kept before anything else: a certificate for this key is ours even if we stop.
            ctx.store.pending_save(
                number,
                key=key,
                challenge_id=challenge.id,
                expires_at=challenge.expires_at.isoformat(),
                server=ctx.url,
            )

        started = challenge_started(
            ctx,
            number,
            keep=keep,
            finish=f"rs {command} {number} --code CODE",
            ask=ask,
            emit=emit,
        )
        if started is None:
            return EXIT_OK
        challenge_id = started
    renews = (current.serial, current.key) if current is not None else None
    issued = ctx.client.certificate_issue(challenge_id, csr_pem(key), renews=renews)
    if isinstance(issued, CertificateRequest):
        ctx.store.request_save(number, request_id=issued.id, issues_at=issued.issues_at.isoformat())
        if emit is not None:
            emit(_request_document(number, issued))
            return EXIT_PENDING
        renewal = (
            f"\n  a new key for a number locked here? approve it with the certificate that "
            f"holds the lock: 'rs approve {issued.id}'"
            if _holds_certificate(ctx, number)
            else ""
        )
        show(
            f"{number} is locked by another holder: certificate request {issued.id} waits "
            f"for their answer, or until {issued.issues_at:%Y-%m-%d %H:%M %Z} if they give "
            f"none (they may refuse it)\n"
            f"  kept: the key and the request, in {ctx.store.number_dir(number)}\n"
            f"  finish with 'rs register {number} --resume' once it is issued{renewal}"
        )
        return EXIT_PENDING
    return _stored(ctx, number, key, issued, emit)


def _request_document(number: str, request: CertificateRequest) -> dict[str, Any]:
    return {
        "number": number,
        "status": request.status,
        "request_id": request.id,
        "issues_at": request.issues_at.isoformat(),
        "finish": f"rs register {number} --resume",
    }


def _renewed(ctx: Context, number: str) -> Credentials | None:
    """The number's stored certificate if it can be renewed (not revoked, not expired)."""
    try:
        credentials = ctx.store.credentials(number)
    except StoreError:
        return None
    if credentials.revoked or credentials.certificate.not_valid_after_utc <= datetime.now(UTC):
        return None
    if credentials.server != server_id(ctx.url):
        return None  # a certificate of another service: this one cannot renew it
    # Revoked since it was stored (by an operator, after a dispute; or by another copy of this
    # folder): it renews nothing. The number is registered anew, with a new key.
    state = ctx.client.certificate_get(credentials.serial)
    if state.status == "revoked":
        ctx.store.mark_revoked(number)
        info(
            f"certificate {credentials.serial} of {number} was revoked "
            f"({state.revocation_reason}): registering the number anew, with a new key"
        )
        return None
    return credentials


def _holds_certificate(ctx: Context, number: str) -> bool:
    """Whether a certificate of the number, not revoked, is stored here."""
    try:
        return not ctx.store.credentials(number).revoked
    except StoreError:
        return False


def _pending(ctx: Context, number: str) -> Pending:
    pending = ctx.store.pending(number)
    if pending is None or pending.server != server_id(ctx.url):
        raise UsageError(
            f"no challenge is pending for {number} at {ctx.url}: run "
            f"'rs register {number}' first, then answer it with --code"
        )
    return pending


def _resume(ctx: Context, number: str, emit: Emit | None) -> int:
    """Collect the certificate of the request a number lock held back, once issued."""
    pending = _pending(ctx, number)
    if pending.request_id is None:
        raise UsageError(
            f"no certificate request is pending for {number}: finish the registration with "
            f"'rs register {number} --code CODE'"
        )
    request = ctx.client.certificate_request_get(pending.request_id)
    if request.pending and emit is not None:
        emit(_request_document(number, request))
        return EXIT_PENDING
    if request.pending:
        show(
            f"certificate request {request.id} for {number} still waits for the answer of "
            f"the number's locked holder, or until {request.issues_at:%Y-%m-%d %H:%M %Z}: "
            f"run 'rs register {number} --resume' again later"
        )
        return EXIT_PENDING
    if not request.issued or request.certificate is None:
        ctx.store.pending_clear(number)
        if emit is not None:
            emit(_request_document(number, request) | {"finish": None})
        failure(
            "register",
            f"certificate request {request.id} for {number} was {request.status} by the "
            f"number's locked holder: no certificate will be issued for it; if the number "
            f"is yours, ask its holder, or dispute their certificate",
        )
        return EXIT_API
    info(f"certificate request {request.id} for {number} was issued ({request.status})")
    return _stored(ctx, number, pending.key, request.certificate, emit)


def _stored(
    ctx: Context,
    number: str,
    key: ec.EllipticCurvePrivateKey,
    issued: IssuedCertificate,
    emit: Emit | None,
) -> int:
    """Check the certificate, store it with its key, then check its log entry."""
    ctx.pinned.certificate_check(issued, number=number, key=key)
    ctx.store.credentials_save(
        number,
        key=key,
        certificate_pem=issued.certificate,
        chain_pems=issued.chain,
        serial=issued.serial,
        x5u=issued.x5u,
        server=ctx.url,
    )
    included = ctx.pinned.certificate_log_check(
        issued, number=number, key=key, progress=waiting("waiting for the log to include it")
    )
    folder = ctx.store.number_dir(number)
    locked = ctx.client.certificate_get(issued.serial).locked
    if emit is not None:
        emit(
            {
                "number": number,
                "status": "registered",
                "serial": issued.serial,
                "not_before": issued.not_before.isoformat(),
                "not_after": issued.not_after.isoformat(),
                "log_index": included.index,
                "checkpoint_size": included.checkpoint.size,
                "renews": issued.renews,
                "handlers_carried": issued.handlers_carried,
                "locked": locked,
                "stored_in": str(folder),
            }
        )
        return EXIT_OK
    show(
        f"registered {number}: certificate {issued.serial}, valid until "
        f"{issued.not_after:%Y-%m-%d %H:%M %Z}\n"
        f"  verified: key, TNAuthList and chain to the pinned CA root\n"
        f"  verified: log entry {included.index} in the signed checkpoint of size "
        f"{included.checkpoint.size}\n"
        f"  stored in {folder}\n"
        + (
            f"  renewed {issued.renews}: {issued.handlers_carried} handler(s) carried over\n"
            if issued.renews
            else ""
        )
        + (
            "  locked: the lock of the certificate it renews carried over"
            if locked
            else f"  lock it against SMS hijacks: 'rs lock {number}'"
        )
    )
    return EXIT_OK
