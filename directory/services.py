"""Directory writes: providers, API keys and handlers. Each function is one atomic change."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection, models, transaction
from django.utils import timezone

from ca.authority import ca_keys
from ca.models import Certificate, ExternalCertificate
from ca.selectors import (
    CertificateNamingError,
    ExternalCertificateError,
    certificate_covers,
    certificate_named,
    certificate_x509,
    external_certificate_verify,
    x5c_certificates,
)
from ca.services.external import external_certificate_hold
from core import locks
from core.dates import rfc3339
from core.numbers import PhoneNumber, number_parse
from core.problems import Problem
from core.signed_requests import (
    MAX_CLOCK_SKEW,
    SignedRequestMalformed,
    SignedRequestMismatch,
    signed_request_parse,
    signed_request_verify,
)
from directory.models import Handler, HandlerRequest
from directory.problems import (
    HandlerInvalid,
    HandlerNotFound,
    RequestReplayed,
    ServiceUnknown,
    SigningCertificateNotValid,
    SigningCertificateNumberMismatch,
    SigningCertificateOfAnotherProvider,
    SigningCertificateUnknown,
    UriInvalid,
)
from directory.signals import handler_published
from providers.models import Provider
from resolution.protocol.directory import (
    MAX_PRIORITY,
    Service,
    ServiceError,
    UriError,
    service_parse,
    uri_validate,
)
from resolution.protocol.entries import EntryKind, handler_committed
from resolution.protocol.tiles import TILE_WIDTH
from transparency.entries import AppendedEntry, CommittedEntry
from transparency.labels import number_label, number_label_keep
from transparency.selectors import (
    EntryHistoryRow,
    entry_committed,
    entry_openings,
    tile_inner_proofs_at,
    tree_size,
)
from transparency.services import log_append_committed
from webhooks.services import handler_changed_notify

logger = structlog.get_logger(__name__)

# --- Handlers ---------------------------------------------------------------------------------
#
# A handler change is a JWS (ES256, compact, application/jose) made with the key of a number
# certificate: signature, certificate (ours, issued to the caller, valid now, covering the
# number), freshness (iat) and uniqueness (jti) are all checked before anything changes. The
# change and its log entry commit together; the entry names the number only by its label and
# the handler only by a commitment (DESIGN §4.2).

PUT_FIELDS = frozenset({"number", "service", "uri", "priority", "visibility", "iat", "jti"})
DELETE_FIELDS = frozenset({"number", "service", "iat", "jti"})
MAX_VISIBLE_TO = 50
# A provider slug as Provider.slug holds it (a SlugField).
_SLUG_LENGTH = Provider._meta.get_field("slug").max_length
_SLUG = re.compile(rf"[-a-zA-Z0-9_]{{1,{_SLUG_LENGTH}}}")
JTI = re.compile(r"[\x21-\x7e]{8,128}")


class RemovalReason(models.TextChoices):
    REMOVED = "removed", "removed by the number holder"
    REVOKED = "revoked", "its certificate was revoked"
    EXPIRED = "expired", "its certificate expired"


@dataclass(frozen=True)
class HandlerChange:
    """A handler published (``handler``) or removed (None), and its log entry."""

    handler: Handler | None
    log: AppendedEntry
    created: bool = False
    repeated: bool = False  # the same JWS sent again: the first answer, nothing done


@dataclass(frozen=True)
class _SignedChange:
    certificate: Certificate | ExternalCertificate  # the latter unsaved on its first use
    payload: dict[str, Any]
    jti: str
    issued_at: datetime
    token_sha256: bytes


class _RepeatedError(Exception):
    """The very JWS of a change already made: the caller answers as it first did."""

    def __init__(self, log_entry_id: int, created: bool) -> None:
        super().__init__(log_entry_id)
        self.log_entry_id, self.created = log_entry_id, created


_EXTERNAL_REJECTIONS: dict[str, type[Problem]] = {
    "unknown": SigningCertificateUnknown,
    "provider": SigningCertificateOfAnotherProvider,
    "not-valid": SigningCertificateNotValid,
    "number": SigningCertificateNumberMismatch,
}


def _certificate_named(
    header: dict[str, Any], provider: Provider
) -> tuple[Certificate | None, list[x509.Certificate]]:
    """The certificate a JWS header names: the provider's from us (with its X.509), or a chain
    from ``x5c``.

    A certificate issued elsewhere is named by ``x5c`` alone: a serial names nothing across
    CAs. One of ours issued to another provider is unknown, as a serial nobody holds is.
    """
    kid, x5c = header.get("kid"), header.get("x5c")
    try:
        ours = certificate_named(kid=kid, x5c=x5c, provider=provider)
        if ours is not None:
            return ours, [certificate_x509(ours)]
        if kid is None:
            chain = x5c_certificates(x5c)
            if chain[0].issuer != ca_keys().issuing.subject:
                return None, chain
    except CertificateNamingError as error:
        raise SignedRequestMalformed(str(error)) from None
    raise SigningCertificateUnknown(
        "The JWS names no certificate issued here to the calling provider."
    )


def _certificate_check(
    ours: Certificate | None,
    chain: list[x509.Certificate],
    *,
    provider: Provider,
    phone: PhoneNumber,
    now: datetime,
) -> Certificate | ExternalCertificate:
    """The named certificate, if it may authorise this caller's change of this number now."""
    if ours is None:
        try:
            return external_certificate_verify(
                chain=chain, provider_slug=provider.slug, number=phone.e164, at=now
            )
        except ExternalCertificateError as error:
            raise _EXTERNAL_REJECTIONS[error.reason](str(error)) from None
    if ours.revoked_at is not None:
        raise SigningCertificateNotValid("The certificate is revoked.")
    if not ours.provider.is_active:
        # Read with the certificate, not from the caller: a process may still accept the key
        # of a provider deactivated elsewhere (RS_API_KEY_CACHE_SECONDS).
        raise SigningCertificateNotValid("The certificate is suspended: its provider is inactive.")
    if ours.not_after <= now:
        raise SigningCertificateNotValid("The certificate has expired.")
    if ours.not_before > now:
        raise SigningCertificateNotValid("The certificate is not valid yet.")
    if not certificate_covers(ours, phone.digits):
        raise SigningCertificateNumberMismatch("The certificate's TNAuthList does not name it.")
    return ours


def _signed_change(
    *,
    provider: Provider,
    phone: PhoneNumber,
    service: Service | None,
    token: object,
    fields: frozenset[str],
) -> _SignedChange:
    """Check everything about a signed change that does not need a lock.

    ``service`` is the one the payload must name, or None for a request about the number
    alone (``number_history``).

    The certificate is ours (named by ``kid`` or ``x5c``) or one issued under another trusted
    root (``x5c``: ca.trust). The signature is checked with its key before anything about
    the certificate is said.
    """
    now = timezone.now()
    parsed = signed_request_parse(token)
    ours, chain = _certificate_named(parsed.header, provider)
    public_key = chain[0].public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise SigningCertificateNotValid("A number certificate's key is a P-256 key.")
    payload = signed_request_verify(parsed, public_key, now=now)
    certificate = _certificate_check(ours, chain, provider=provider, phone=phone, now=now)
    unknown = sorted(set(payload) - fields)
    if unknown:
        raise SignedRequestMismatch(f"Unknown payload fields: {', '.join(unknown)}.")
    if payload.get("number") != phone.e164:
        raise SignedRequestMismatch(f"The payload's 'number' must be {phone.e164}.")
    if service is not None and payload.get("service") != service.value:
        raise SignedRequestMismatch(f"The payload's 'service' must be {service.value!r}.")
    jti = payload.get("jti")
    if not isinstance(jti, str) or not JTI.fullmatch(jti):
        raise SignedRequestMalformed("'jti' must be 8 to 128 printable ASCII characters.")
    issued_at = datetime.fromtimestamp(payload["iat"], tz=UTC)
    return _SignedChange(
        certificate=certificate,
        payload=payload,
        jti=jti,
        issued_at=issued_at,
        token_sha256=hashlib.sha256(str(token).encode("ascii")).digest(),
    )


def _certificate_hold(change: _SignedChange) -> Certificate | ExternalCertificate:
    """Lock the certificate against a revocation until the caller's transaction ends.

    A revocation that committed after ``_signed_change`` looked is seen here; one that starts
    later waits, then removes what this transaction adds. A certificate issued elsewhere is
    kept on its first use; the row kept is returned.
    """
    certificate = change.certificate
    if isinstance(certificate, ExternalCertificate):
        certificate = external_certificate_hold(certificate)
        revoked_at = certificate.revoked_at
    else:
        revoked_at = (
            Certificate.objects.select_for_update(no_key=True)
            .filter(pk=certificate.pk)
            .values_list("revoked_at", flat=True)
            .get()
        )
    if revoked_at is not None:
        raise SigningCertificateNotValid("The certificate is revoked.")
    return certificate


def _jti_spend(change: _SignedChange) -> None:
    """Record the jti in the caller's transaction; refuse one seen before, unless this is the
    very JWS of a change made (``_RepeatedError``: the caller answers as it did)."""
    certificate_sha256 = bytes(change.certificate.certificate_sha256)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {HandlerRequest._meta.db_table} "  # noqa: S608
            "(certificate_sha256, jti, issued_at, request_sha256) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
            [certificate_sha256, change.jti, change.issued_at, change.token_sha256],
        )
        if cursor.fetchone() is not None:
            return
    # A new statement sees the first one's row, committed (it waited for that) or not.
    first = (
        HandlerRequest.objects.filter(certificate_sha256=certificate_sha256, jti=change.jti)
        .values_list("request_sha256", "log_entry", "created")
        .first()
    )
    request_sha256, log_entry_id, created = first if first is not None else (None, None, None)
    same = request_sha256 is not None and bytes(request_sha256) == change.token_sha256
    if same and log_entry_id is not None:
        raise _RepeatedError(log_entry_id, bool(created))
    raise RequestReplayed("This 'jti' was already used with this certificate.")


def _jti_made(change: _SignedChange, *, log_entry_id: int, created: bool = False) -> None:
    """Note, with the jti, the entry its change made (in the change's transaction)."""
    HandlerRequest.objects.filter(
        certificate_sha256=bytes(change.certificate.certificate_sha256), jti=change.jti
    ).update(log_entry_id=log_entry_id, created=created)


def _entry_of(entry_id: int) -> CommittedEntry:
    entry = entry_committed(entry_id=entry_id)
    assert entry is not None, "a handler change's entry keeps its opening while its jti is kept"
    return entry


def _handler_key_lock(*, provider: Provider, number: str, service: str) -> None:
    """Hold the lock on a handler's key until the caller's transaction ends: a PUT that finds no
    handler creates it while no other PUT of the same key can (the row lock cannot: there is no
    row yet, and a second insert would fail on the unique constraint)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            [locks.HANDLER, f"{provider.pk}:{number}:{service}"],
        )


def _priority(payload: dict[str, Any]) -> int:
    priority = payload.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise HandlerInvalid("'priority' must be an integer.")
    if not 0 <= priority <= MAX_PRIORITY:
        raise HandlerInvalid(f"'priority' must be between 0 and {MAX_PRIORITY}.")
    return priority


def _visible_to(payload: dict[str, Any]) -> list[str] | None:
    """None for ``"all"``; else the slugs, sorted (the caller always sees its own handlers).

    Only their form is checked, never whether a provider has them: an answer that differed
    would tell any provider which slugs exist. A slug no provider has matches no caller.
    """
    visibility = payload.get("visibility", "all")
    if visibility == "all":
        return None
    if (
        not isinstance(visibility, list)
        or not 1 <= len(visibility) <= MAX_VISIBLE_TO
        or not all(isinstance(slug, str) and _SLUG.fullmatch(slug) for slug in visibility)
    ):
        raise HandlerInvalid(
            f"'visibility' must be \"all\" or a list of 1 to {MAX_VISIBLE_TO} provider slugs "
            f"(letters, digits, '-' and '_', at most {_SLUG_LENGTH} characters)."
        )
    return sorted(set(visibility))


def handler_fields_of(handler: Handler, provider_slug: str) -> dict[str, Any]:
    """The fields a handler's commitment covers (resolution.protocol.entries.handler_committed)."""
    return handler_committed(
        number=handler.number,
        provider=provider_slug,
        service=handler.service,
        uri=handler.uri,
        priority=handler.priority,
        expires_at=rfc3339(handler.expires_at),
        certificate=handler.certificate_serial,
    )


def handler_put(*, provider: Provider, number: str, service: str, token: object) -> HandlerChange:
    """Publish (or replace) the caller's handler of ``service`` for ``number``."""
    phone = number_parse(number)
    kind = _service(service)
    change = _signed_change(
        provider=provider, phone=phone, service=kind, token=token, fields=PUT_FIELDS
    )
    uri = change.payload.get("uri")
    if not isinstance(uri, str):
        raise HandlerInvalid("'uri' is required: the URI of the handler.")
    try:
        uri = uri_validate(kind, uri)
    except UriError as error:
        raise UriInvalid(str(error)) from None
    priority = _priority(change.payload)
    visible_to = _visible_to(change.payload)
    try:
        return _handler_put(
            provider, phone, kind, change, uri=uri, priority=priority, visible_to=visible_to
        )
    except _RepeatedError as repeated:
        # The same JWS again (its answer was lost): the answer it got, nothing done twice.
        handler = Handler(
            number=phone.e164,
            provider=provider,
            service=kind.value,
            uri=uri,
            priority=priority,
            visible_to=visible_to,
            expires_at=change.certificate.not_after,
        )
        if isinstance(change.certificate, ExternalCertificate):
            handler.external_certificate = change.certificate
        else:
            handler.certificate = change.certificate
        return HandlerChange(
            handler=handler,
            log=_entry_of(repeated.log_entry_id),
            created=repeated.created,
            repeated=True,
        )


def _handler_put(
    provider: Provider,
    phone: PhoneNumber,
    kind: Service,
    change: _SignedChange,
    *,
    uri: str,
    priority: int,
    visible_to: list[str] | None,
) -> HandlerChange:
    with transaction.atomic(durable=True):
        # core.locks's order: the certificate, the jti, the handler, the label.
        certificate = _certificate_hold(change)
        _jti_spend(change)
        _handler_key_lock(provider=provider, number=phone.e164, service=kind.value)
        handler = (
            Handler.objects.select_for_update()
            .filter(number=phone.e164, provider=provider, service=kind.value)
            .first()
        )
        created = handler is None
        if handler is None:
            handler = Handler(number=phone.e164, provider=provider, service=kind.value)
        handler.uri = uri
        handler.priority = priority
        handler.visible_to = visible_to
        if isinstance(certificate, ExternalCertificate):
            handler.certificate, handler.external_certificate = None, certificate
            handler.label = number_label_keep(phone.e164).label
        else:
            handler.certificate, handler.external_certificate = certificate, None
            handler.label = bytes(certificate.label)
        handler.expires_at = certificate.not_after
        handler.updated_at = timezone.now()
        entry = log_append_committed(
            kind=EntryKind.HANDLER,
            label=bytes(handler.label),
            content=handler_fields_of(handler, provider.slug),
        )
        handler.opening = entry.opening
        handler.log_entry_id = entry.entry_id
        handler.tile_proof = None  # a new entry: its tile is not full yet
        handler.save()
        _jti_made(change, log_entry_id=entry.entry_id, created=created)
        handler_changed_notify(
            number=phone.e164,
            service=kind.value,
            provider=provider,
            action="published",
            log=entry,
        )
        handler_published.send(sender=Handler, handler=handler, provider=provider)
    logger.info(
        "handler published",
        provider=provider.slug,
        service=kind.value,
        created=created,
        log_entry_id=entry.entry_id,
    )
    return HandlerChange(handler=handler, log=entry, created=created)


def handler_delete(
    *, provider: Provider, number: str, service: str, token: object
) -> HandlerChange:
    """Remove the caller's handler of ``service`` for ``number``."""
    phone = number_parse(number)
    kind = _service(service)
    change = _signed_change(
        provider=provider, phone=phone, service=kind, token=token, fields=DELETE_FIELDS
    )
    try:
        with transaction.atomic(durable=True):
            _certificate_hold(change)
            _jti_spend(change)
            handler = (
                Handler.objects.select_for_update()
                .filter(number=phone.e164, provider=provider, service=kind.value)
                .first()
            )
            if handler is None:
                raise HandlerNotFound(f"No {kind.value} handler of this provider for this number.")
            entry = _handler_remove(handler, provider, RemovalReason.REMOVED)
            _jti_made(change, log_entry_id=entry.entry_id)
    except _RepeatedError as repeated:
        # The same JWS again (its answer was lost): the answer it got, nothing done twice.
        return HandlerChange(handler=None, log=_entry_of(repeated.log_entry_id), repeated=True)
    logger.info(
        "handler removed", provider=provider.slug, service=kind.value, log_entry_id=entry.entry_id
    )
    return HandlerChange(handler=None, log=entry)


def _handler_remove(handler: Handler, provider: Provider, reason: RemovalReason) -> AppendedEntry:
    """Delete the row and log the removal, in the caller's transaction: the entry commits to
    the number, provider, service and the serial of the certificate that had authorised the
    handler; the reason is public. The number's holders and the handler's provider are told
    (webhooks)."""
    handler.delete()
    entry = log_append_committed(
        kind=EntryKind.HANDLER_REMOVED,
        label=bytes(handler.label),
        content={
            "number": handler.number,
            "provider": provider.slug,
            "service": handler.service,
            "certificate": handler.certificate_serial,
        },
        reason=reason.value,
    )
    handler_changed_notify(
        number=handler.number,
        service=handler.service,
        provider=provider,
        action="removed",
        log=entry,
        reason=reason.value,
    )
    return entry


def _service(text: str) -> Service:
    try:
        return service_parse(text)
    except ServiceError as error:
        raise ServiceUnknown(str(error)) from None


def _handlers_authorised(
    certificate: Certificate | ExternalCertificate,
) -> models.QuerySet[Handler]:
    """The handlers ``certificate`` authorised, row-locked (theirs alone) in primary-key order."""
    authorised = (
        models.Q(external_certificate=certificate)
        if isinstance(certificate, ExternalCertificate)
        else models.Q(certificate=certificate)
    )
    return Handler.objects.select_for_update(of=("self",)).filter(authorised).order_by("pk")


def handlers_lock_revoked(
    *, certificate: Certificate | ExternalCertificate, **_signal: Any
) -> None:
    """Lock the handlers a certificate being revoked authorised, before the revocation is
    logged (``core.locks``' order); nothing changes yet."""
    list(_handlers_authorised(certificate).values_list("pk", flat=True))


def handlers_remove_revoked(
    *, certificate: Certificate | ExternalCertificate, **_signal: Any
) -> int:
    """Remove the handlers a revoked certificate authorised (in the revoking transaction, which
    locked them with :func:`handlers_lock_revoked`)."""
    handlers = list(_handlers_authorised(certificate).select_related("provider"))
    for handler in handlers:
        _handler_remove(handler, handler.provider, RemovalReason.REVOKED)
    if handlers:
        logger.info("handlers removed", reason="revoked", count=len(handlers))
    return len(handlers)


def handlers_lock_renewing(*, certificate: Certificate, **_signal: Any) -> None:
    """Lock the handlers a certificate being renewed authorised, before the renewal is logged
    (``core.locks``' order); nothing changes yet."""
    list(_handlers_authorised(certificate).values_list("pk", flat=True))


def handlers_carry_over(*, certificate: Certificate, renewal: Certificate, **_signal: Any) -> int:
    """Move the handlers ``certificate`` authorised to its ``renewal``, in the renewing
    transaction (which locked them with :func:`handlers_lock_renewing`): each is logged again,
    committing to the new certificate and expiry; its holders are told. How many."""
    handlers = list(_handlers_authorised(certificate).select_related("provider"))
    for handler in handlers:
        handler.certificate = renewal
        handler.expires_at = renewal.not_after
        handler.updated_at = timezone.now()
        entry = log_append_committed(
            kind=EntryKind.HANDLER,
            label=bytes(handler.label),
            content=handler_fields_of(handler, handler.provider.slug),
        )
        handler.opening = entry.opening
        handler.log_entry_id = entry.entry_id
        handler.tile_proof = None  # a new entry: its tile is not full yet
        handler.save()
        handler_changed_notify(
            number=handler.number,
            service=handler.service,
            provider=handler.provider,
            action="published",
            log=entry,
        )
    if handlers:
        logger.info("handlers carried over", count=len(handlers), renewal=renewal.serial)
    return len(handlers)


def handlers_expire(*, batch: int = 500) -> int:
    """Remove (and log the removal of) handlers whose certificate has expired; how many."""
    removed = 0
    while True:
        with transaction.atomic(durable=True):
            handlers = list(
                Handler.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(expires_at__lte=timezone.now())
                .select_related("provider")
                .order_by("expires_at", "pk")[:batch]
            )
            for handler in handlers:
                _handler_remove(handler, handler.provider, RemovalReason.EXPIRED)
        removed += len(handlers)
        if len(handlers) < batch:
            break
    if removed:
        logger.info("handlers removed", reason="expired", count=removed)
    return removed


def handler_requests_prune() -> int:
    """Forget jtis whose iat could no longer be accepted anyway."""
    cutoff = timezone.now() - 2 * MAX_CLOCK_SKEW
    deleted, _ = HandlerRequest.objects.filter(issued_at__lt=cutoff).delete()
    return deleted


def handler_tile_proofs_keep(*, batch: int = 5000) -> int:
    """Keep the in-tile proof hashes of handlers whose entry's level-0 tile is now full.

    A lookup then builds each handler's inclusion proof from these 256 bytes and the upper
    levels, instead of reading the entry's 8 KiB tile and hashing inside it. A handler
    re-published meanwhile has a new entry: the update matches the entry it was computed
    for, so it cannot store hashes for the wrong one. Returns how many were kept.
    """
    kept = 0
    full_end = tree_size() // TILE_WIDTH * TILE_WIDTH
    while True:
        due = list(
            Handler.objects.filter(tile_proof__isnull=True, log_entry__index__lt=full_end)
            .order_by("log_entry__index")
            .values_list("pk", "log_entry", "log_entry__index")[:batch]
        )
        if not due:
            break
        indices = {entry: index for _, entry, index in due if index is not None}
        proofs = tile_inner_proofs_at(indices=list(indices.values()))
        rows = [
            (pk, entry, proofs[indices[entry]])
            for pk, entry, _ in due
            if entry in indices and indices[entry] in proofs
        ]
        if not rows:
            break  # tiles not stored yet (the integrator is behind its checkpoint): next time
        table, ids = Handler._meta.db_table, [row[0] for row in rows]
        with transaction.atomic(), connection.cursor() as cursor:
            # The rows are locked in primary-key order first, as a revocation locks them
            # (core.locks); the UPDATE alone would lock them in whatever order its join runs.
            # Two statements: a locking CTE joined into the UPDATE is planned as a nested loop
            # over both lists, quadratic in the batch (minutes for 20,000 handlers).
            cursor.execute(
                f"SELECT id FROM {table} WHERE id = ANY(%s::bigint[]) "  # noqa: S608
                "ORDER BY id FOR NO KEY UPDATE",
                [ids],
            )
            cursor.execute(
                f"UPDATE {table} AS handler SET tile_proof = kept.proof "  # noqa: S608
                "FROM unnest(%s::bigint[], %s::bigint[], %s::bytea[]) AS kept(id, entry, proof) "
                "WHERE handler.id = kept.id "
                "AND handler.log_entry_id = kept.entry AND handler.tile_proof IS NULL",
                [ids, [row[1] for row in rows], [row[2] for row in rows]],
            )
            kept += cursor.rowcount
        if len(due) < batch:
            break
    return kept


# --- The holder's history ---------------------------------------------------------------------
#
# Version-2 entries show only a label and a commitment; their openings are kept by the server
# (transparency.models.EntryOpening). The number's holder asks for them with a signed request,
# checked as a handler change is, so that it can check every entry under its number's label
# (rs monitor).

HISTORY_FIELDS = frozenset({"number", "iat", "jti"})


@dataclass(frozen=True)
class NumberHistory:
    """Every entry under a number's label, oldest first, each with its opening if kept."""

    number: str
    label: bytes
    entries: list[EntryHistoryRow]


def number_history(*, provider: Provider, number: str, token: object) -> NumberHistory:
    """The log's entries about ``number``, with their openings, for the holder of a certificate
    that covers it: a JWS over ``{number, iat, jti}``, whose jti is spent (a replay is refused).
    """
    phone = number_parse(number)
    change = _signed_change(
        provider=provider, phone=phone, service=None, token=token, fields=HISTORY_FIELDS
    )
    with transaction.atomic(durable=True):
        _jti_spend(change)
    label = number_label(phone.e164).label
    logger.info("number history read", provider=provider.slug)
    return NumberHistory(number=phone.e164, label=label, entries=entry_openings(label=label))
