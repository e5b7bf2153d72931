"""CA writes: challenges, their delivery, certificates, revocations and CRLs.

Each public function is one state change and the only place it happens. Changes that the log
records append their entry in the same transaction (transparency.services.log_append), last,
so the change and its entry commit or roll back together. SMS leave the process only after
the challenge has committed (core.tasks.enqueue_on_commit).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from ca import authority
from ca.choices import DELIVERY_PROGRESS, ChallengeStatus, DeliveryStatus, RevocationReason
from ca.codes import code_digest, code_generate, code_matches, code_seal, code_unseal
from ca.csr import csr_public_key
from ca.limits import LimitedKey, limits_enforce, limits_parse
from ca.models import Certificate, Challenge, Crl, ExternalCertificate, ExternalCrl
from ca.problems import (
    CertificateExpired,
    CertificateRevoked,
    ChallengeAlreadyVerified,
    ChallengeCodeWrong,
    ChallengeExpired,
    ChallengeFailed,
    ChallengeNotFound,
    ChallengeNotVerified,
    ChallengeOfAnotherProvider,
    ChallengeUsed,
    CountryNotAllowed,
)
from ca.selectors import certificate_x509, name_sha256
from ca.signals import certificate_revoked
from ca.sms import SmsError, SmsMessage, SmsPermanentError, sms_backend
from ca.trust import TrustedRoot, trusted_roots
from core.dates import rfc3339
from core.numbers import mobile_number_parse
from core.problems import Problem
from core.signed_requests import (
    SignedRequestMalformed,
    SignedRequestMismatch,
    signed_request_parse,
    signed_request_verify,
)
from core.tasks import enqueue_on_commit
from providers.models import Provider
from transparency.labels import number_label_keep
from transparency.services import AppendedEntry, log_append

logger = structlog.get_logger(__name__)

# pg_advisory_xact_lock key serialising CRL numbers ("RS" + 4).
CRL_LOCK = 0x5253_0004
# Room the SMS leaves for the provider's name (GSM-7: 160 characters in one part).
MAX_PROVIDER_NAME_IN_SMS = 40


# --- Challenges -------------------------------------------------------------------------------


def _limited_keys(
    *, provider: Provider, e164: str, calling_code: int, client_ip: str
) -> list[LimitedKey]:
    return [
        LimitedKey(
            "number", e164, Q(number=e164), limits_parse(settings.RS_CHALLENGE_LIMIT_NUMBER)
        ),
        LimitedKey(
            "provider",
            str(provider.pk),
            Q(provider=provider),
            limits_parse(settings.RS_CHALLENGE_LIMIT_PROVIDER),
        ),
        LimitedKey(
            "client_ip",
            client_ip,
            Q(client_ip=client_ip),
            limits_parse(settings.RS_CHALLENGE_LIMIT_CLIENT_IP),
        ),
        LimitedKey(
            "country",
            str(calling_code),
            Q(calling_code=calling_code),
            limits_parse(settings.RS_CHALLENGE_LIMIT_COUNTRY),
        ),
    ]


def challenge_start(*, provider: Provider, number: str, client_ip: str) -> Challenge:
    """Start a challenge for ``number`` and queue its SMS; every limit is checked first."""
    phone = mobile_number_parse(number)
    allowed = {code.strip().upper() for code in settings.RS_CHALLENGE_COUNTRIES}
    if phone.region not in allowed:
        raise CountryNotAllowed(
            f"This service does not send SMS to numbers of {phone.region or 'this country'}."
        )
    now = timezone.now()
    challenge_id = uuid.uuid4()
    code = code_generate(settings.RS_CHALLENGE_CODE_DIGITS)
    keys = _limited_keys(
        provider=provider, e164=phone.e164, calling_code=phone.calling_code, client_ip=client_ip
    )
    with transaction.atomic():
        limits_enforce(keys, now=now)
        challenge = Challenge.objects.create(
            id=challenge_id,
            provider=provider,
            number=phone.e164,
            region=phone.region,
            calling_code=phone.calling_code,
            client_ip=client_ip,
            code_hmac=code_digest(challenge_id, code),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.RS_CHALLENGE_LIFETIME_SECONDS),
        )
        from ca.tasks import challenge_sms_send  # tasks import this module

        enqueue_on_commit(challenge_sms_send, str(challenge_id), code_seal(challenge_id, code))
    logger.info(
        "challenge started",
        challenge=str(challenge_id),
        provider=provider.slug,
        region=phone.region,
    )
    return challenge


def _challenge_locked(*, provider: Provider, challenge_id: uuid.UUID) -> Challenge:
    """The challenge, row-locked for this transaction, if it is the provider's."""
    challenge = Challenge.objects.select_for_update().filter(pk=challenge_id).first()
    if challenge is None:
        raise ChallengeNotFound("No challenge has this id.")
    if challenge.provider_id != provider.pk:
        raise ChallengeOfAnotherProvider("This challenge was started by another provider.")
    return challenge


def challenge_verify(*, provider: Provider, challenge_id: uuid.UUID, code: str) -> Challenge:
    """Answer a challenge. A wrong code counts, even though the answer is an error."""
    wrong: Problem | None = None
    with transaction.atomic():
        challenge = _challenge_locked(provider=provider, challenge_id=challenge_id)
        if challenge.status == ChallengeStatus.USED:
            raise ChallengeUsed("This challenge has been used for a certificate.")
        if challenge.status == ChallengeStatus.VERIFIED:
            raise ChallengeAlreadyVerified("This challenge is verified: request the certificate.")
        if challenge.status == ChallengeStatus.FAILED:
            raise ChallengeFailed("Too many wrong codes; start a new challenge.")
        if challenge.is_expired:
            raise ChallengeExpired("The code has expired; start a new challenge.")
        if code_matches(challenge.id, code, bytes(challenge.code_hmac)):
            challenge.status = ChallengeStatus.VERIFIED
            challenge.verified_at = timezone.now()
            challenge.save(update_fields=["status", "verified_at"])
        else:
            challenge.attempts += 1
            left = max(settings.RS_CHALLENGE_MAX_ATTEMPTS - challenge.attempts, 0)
            if left == 0:
                challenge.status = ChallengeStatus.FAILED
            challenge.save(update_fields=["attempts", "status"])
            wrong = ChallengeCodeWrong(
                "Wrong code." + (" The challenge has ended." if left == 0 else ""),
                attempts_left=left,
            )
    if wrong is not None:  # raised after the commit, so that the attempt is counted
        logger.info(
            "challenge code wrong", challenge=str(challenge.id), attempts=challenge.attempts
        )
        raise wrong
    logger.info("challenge verified", challenge=str(challenge.id), provider=provider.slug)
    return challenge


# --- SMS delivery -----------------------------------------------------------------------------


def challenge_sms_text(*, provider_name: str, code: str) -> str:
    """The SMS: who asks, the code, and a last line binding it to our domain (WebOTP)."""
    name = provider_name[:MAX_PROVIDER_NAME_IN_SMS]
    return (
        f"{settings.RS_SMS_SERVICE_NAME}: {code} is your code to link this number to {name}. "
        f"Do not share it.\n\n@{settings.RS_SMS_OTP_DOMAIN} #{code}"
    )


def _delivery_update(challenge_id: uuid.UUID, **fields: Any) -> None:
    Challenge.objects.filter(pk=challenge_id).update(delivery_updated_at=timezone.now(), **fields)


def challenge_sms_deliver(*, challenge_id: uuid.UUID, sealed_code: str) -> None:
    """Send the challenge's SMS now. Raises :class:`ca.sms.SmsTemporaryError` to be retried.

    A challenge that was answered, ended or expired meanwhile gets no SMS.
    """
    challenge = Challenge.objects.select_related("provider").filter(pk=challenge_id).first()
    if challenge is None or challenge.status != ChallengeStatus.PENDING or challenge.is_expired:
        logger.info("challenge sms skipped", challenge=str(challenge_id))
        return
    message = SmsMessage(
        to=challenge.number,
        body=challenge_sms_text(
            provider_name=challenge.provider.name, code=code_unseal(challenge_id, sealed_code)
        ),
        reference=str(challenge_id),
    )
    try:
        message_id = sms_backend().send(message)
    except SmsPermanentError as error:
        challenge_delivery_failed(challenge_id=challenge_id, error=error)
        return
    _delivery_update(
        challenge_id,
        delivery_status=DeliveryStatus.ACCEPTED,
        message_id=message_id[:64],
        delivery_attempts=challenge.delivery_attempts + 1,
        delivery_error="",
    )
    logger.info("challenge sms sent", challenge=str(challenge_id), message_id=message_id)


def _error_text(error: SmsError) -> str:
    return f"{error.code}: {error}"[:200]


def challenge_delivery_retrying(*, challenge_id: uuid.UUID, error: SmsError, attempt: int) -> None:
    """Record a provider error that will be retried."""
    _delivery_update(
        challenge_id,
        delivery_status=DeliveryStatus.RETRYING,
        delivery_attempts=attempt,
        delivery_error=_error_text(error),
    )
    logger.warning("challenge sms retrying", challenge=str(challenge_id), error=str(error))


def challenge_delivery_failed(*, challenge_id: uuid.UUID, error: SmsError) -> None:
    """Record that the SMS could not be sent at all (the final attempt failed)."""
    _delivery_update(
        challenge_id, delivery_status=DeliveryStatus.FAILED, delivery_error=_error_text(error)
    )
    logger.warning("challenge sms failed", challenge=str(challenge_id), error=str(error))


# Twilio's message statuses (MessageStatus) as our delivery statuses.
_REPORTED = {
    "accepted": DeliveryStatus.ACCEPTED,
    "scheduled": DeliveryStatus.ACCEPTED,
    "queued": DeliveryStatus.ACCEPTED,
    "sending": DeliveryStatus.ACCEPTED,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}


def challenge_delivery_report(*, message_id: str, status: str, error_code: str = "") -> bool:
    """Record a delivery report from the SMS provider; False when no challenge matches.

    Reports can arrive out of order: one never moves a challenge back (``sent`` after
    ``delivered`` is ignored).
    """
    reported = _REPORTED.get(status.lower())
    if reported is None or not message_id:
        return False
    with transaction.atomic():
        challenge = Challenge.objects.select_for_update().filter(message_id=message_id).first()
        if challenge is None:
            return False
        current = DeliveryStatus(challenge.delivery_status)
        if DELIVERY_PROGRESS[reported] >= DELIVERY_PROGRESS[current] and reported != current:
            challenge.delivery_status = reported
            challenge.delivery_updated_at = timezone.now()
            if error_code:
                challenge.delivery_error = f"provider error {error_code}"[:200]
            challenge.save(
                update_fields=["delivery_status", "delivery_updated_at", "delivery_error"]
            )
    logger.info("challenge delivery report", message_id=message_id, status=reported.value)
    return True


# --- Certificates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedCertificate:
    certificate: Certificate
    log: AppendedEntry


def _challenge_spend(*, provider: Provider, challenge_id: uuid.UUID) -> str:
    """Mark the provider's verified, unexpired challenge used, in one statement; its number.

    The row stays locked until the caller's transaction ends, so it is spent once. When the
    challenge cannot be spent, a second look says why.
    """
    table = Challenge._meta.db_table
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, used_at = %s "  # noqa: S608 (a model's own table)
            "WHERE id = %s AND provider_id = %s AND status = %s AND expires_at > %s "
            "RETURNING number",
            [
                *(ChallengeStatus.USED, now),
                *(challenge_id, provider.pk, ChallengeStatus.VERIFIED, now),
            ],
        )
        row = cursor.fetchone()
    if row is not None:
        return str(row[0])
    challenge = _challenge_locked(provider=provider, challenge_id=challenge_id)
    if challenge.status == ChallengeStatus.USED:
        raise ChallengeUsed("This challenge has already been used for a certificate.")
    if challenge.status == ChallengeStatus.FAILED:
        raise ChallengeFailed("This challenge ended after too many wrong codes.")
    if challenge.status != ChallengeStatus.VERIFIED:
        raise ChallengeNotVerified("Answer the challenge with its code first.")
    raise ChallengeExpired("The challenge expired before a certificate was requested.")


def certificate_issue(
    *, provider: Provider, challenge_id: uuid.UUID, csr: str
) -> IssuedCertificate:
    """Issue a number certificate for the CSR's key, spending a verified challenge.

    The certificate names exactly the challenge's number; its log entry (label, serial, hashes,
    validity, provider; never the number) commits with it or not at all.
    """
    public_key = csr_public_key(csr)
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        number = _challenge_spend(provider=provider, challenge_id=challenge_id)
        serial = authority.serial_generate()
        not_before = now - authority.BACKDATE
        not_after = now + timedelta(days=settings.RS_CERT_LIFETIME_DAYS)
        signed = authority.end_entity_sign(
            public_key=public_key,
            number_digits=number[1:],
            serial=serial,
            not_before=not_before,
            not_after=not_after,
            holder=provider.name,
        )
        label = number_label_keep(number)
        entry = log_append(
            kind="certificate",
            payload={
                "label": label.label.hex(),
                "serial": authority.serial_hex(serial),
                "certificate_sha256": signed.certificate_sha256.hex(),
                "public_key_sha256": signed.public_key_sha256.hex(),
                "not_before": rfc3339(not_before),
                "not_after": rfc3339(not_after),
                "provider": provider.slug,
            },
        )
        certificate = Certificate.objects.create(
            serial=authority.serial_hex(serial),
            provider=provider,
            challenge_id=challenge_id,
            number=number,
            label=label.label,
            der=signed.der,
            certificate_sha256=signed.certificate_sha256,
            public_key_sha256=signed.public_key_sha256,
            not_before=not_before,
            not_after=not_after,
            log_index=entry.index,
        )
    logger.info(
        "certificate issued",
        serial=certificate.serial,
        provider=provider.slug,
        log_index=entry.index,
    )
    return IssuedCertificate(certificate=certificate, log=entry)


def certificate_revoke(
    *, certificate: Certificate, reason: RevocationReason, actor: str
) -> Certificate:
    """Revoke a certificate: log the revocation, then sign a CRL that lists it.

    ``actor`` says who asked (``holder`` or ``admin:<username>``) for the service's own logs.
    """
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        locked = (
            Certificate.objects.select_for_update()
            .select_related("provider")
            .get(pk=certificate.pk)
        )
        if locked.revoked_at is not None:
            raise CertificateRevoked(f"Revoked at {rfc3339(locked.revoked_at)}.")
        if locked.not_after <= now:
            raise CertificateExpired("An expired certificate needs no revocation.")
        entry = log_append(
            kind="revocation",
            payload={
                "label": bytes(locked.label).hex(),
                "serial": locked.serial,
                "revoked_at": rfc3339(now),
                "reason": reason.value,
                "provider": locked.provider.slug,
            },
        )
        locked.revoked_at = now
        locked.revocation_reason = reason.value
        locked.revocation_log_index = entry.index
        locked.save(update_fields=["revoked_at", "revocation_reason", "revocation_log_index"])
        # The directory removes (and logs the removal of) the handlers it authorised.
        certificate_revoked.send(sender=Certificate, certificate=locked)
        crl_publish()
    logger.info(
        "certificate revoked",
        serial=locked.serial,
        reason=reason.value,
        actor=actor,
        log_index=entry.index,
    )
    return locked


def certificate_revoke_signed(*, certificate: Certificate, token: object) -> Certificate:
    """Revoke at the holder's request: a JWS over ``{serial, reason?, iat}`` made with the
    certificate's own key."""
    parsed = signed_request_parse(token)
    kid = parsed.header.get("kid")
    if kid is not None and kid != certificate.serial:
        raise SignedRequestMismatch("The JWS 'kid' names another certificate.")
    public_key = certificate_x509(certificate).public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)  # we only certify P-256 keys
    payload = signed_request_verify(parsed, public_key, now=timezone.now())
    if payload.get("serial") != certificate.serial:
        raise SignedRequestMismatch("The payload's 'serial' is not this certificate's serial.")
    reason = payload.get("reason", RevocationReason.UNSPECIFIED.value)
    if reason not in RevocationReason.values:
        raise SignedRequestMalformed(
            f"'reason' must be one of: {', '.join(RevocationReason.values)}."
        )
    return certificate_revoke(
        certificate=certificate, reason=RevocationReason(reason), actor="holder"
    )


# --- CRLs -------------------------------------------------------------------------------------


def crl_publish() -> Crl:
    """Sign a new CRL of every revoked certificate that has not expired (RFC 5280 §5)."""
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Numbers strictly increase, and a CRL signed after a revocation commits lists it.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CRL_LOCK])
        number = (Crl.objects.aggregate(last=Max("number"))["last"] or 0) + 1
        revoked = [
            authority.RevokedSerial(serial=int(serial, 16), revoked_at=revoked_at, reason=reason)
            for serial, revoked_at, reason in Certificate.objects.filter(
                revoked_at__isnull=False, not_after__gt=now
            )
            .order_by("revoked_at")
            .values_list("serial", "revoked_at", "revocation_reason")
            if revoked_at is not None  # always, by the filter: this tells the type checker
        ]
        next_update = now + timedelta(hours=settings.RS_CRL_LIFETIME_HOURS)
        crl = Crl.objects.create(
            number=number,
            der=authority.crl_sign(
                number=number, revoked=revoked, this_update=now, next_update=next_update
            ),
            this_update=now,
            next_update=next_update,
            revoked_count=len(revoked),
        )
    logger.info("crl published", number=number, revoked=len(revoked))
    return crl


def crl_current() -> Crl:
    """The newest CRL, signing a new one first if it is missing or past half its life."""
    latest = Crl.objects.order_by("-number").first()
    half_life = timedelta(hours=settings.RS_CRL_LIFETIME_HOURS) / 2
    if latest is None or latest.next_update - timezone.now() <= half_life:
        latest = crl_publish()
    return latest


def crl_refresh(*, keep: timedelta = timedelta(days=7)) -> Crl:
    """Periodically: keep the CRL current and drop CRLs older than ``keep``."""
    latest = crl_current()
    Crl.objects.filter(this_update__lt=timezone.now() - keep).exclude(number=latest.number).delete()
    return latest


def crl_bootstrap() -> str:
    """Bootstrap step: make sure a current CRL exists."""
    crl = crl_current()
    return f"CRL {crl.number} valid until {rfc3339(crl.next_update)}"


# --- Certificates issued under other trusted roots (ca.trust) -------------------------------

MAX_CRL_BYTES = 8 * 1024 * 1024
CRL_FETCH_TIMEOUT = 10.0


def external_certificate_hold(certificate: ExternalCertificate) -> ExternalCertificate:
    """Keep a certificate ``external_certificate_verify`` accepted, locked until the caller's
    transaction ends; the kept row, whose ``revoked_at`` a CRL may have set meanwhile.

    Two first uses at once both succeed: the row is inserted once, and both lock it.
    """
    fields = [
        field
        for field in ExternalCertificate._meta.concrete_fields
        if field.name not in {"id", "created_at", "revoked_at"}
    ]
    table = ExternalCertificate._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(f.column for f in fields)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            "ON CONFLICT (certificate_sha256) DO NOTHING",
            [
                field.get_db_prep_value(getattr(certificate, field.attname), connection)
                for field in fields
            ],
        )
    kept = (
        ExternalCertificate.objects.select_for_update(no_key=True)
        .filter(certificate_sha256=certificate.certificate_sha256)
        .get()
    )
    return kept


class CrlFetchError(Exception):
    """A CRL could not be fetched or read."""


def _crl_fetch(url: str) -> x509.CertificateRevocationList:
    """GET a CRL (DER, or PEM) from an operator-configured URL: bounded in time and size."""
    try:
        with (
            httpx.Client(
                timeout=CRL_FETCH_TIMEOUT, follow_redirects=False, trust_env=False
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise CrlFetchError(f"HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_CRL_BYTES:
                    raise CrlFetchError(f"larger than {MAX_CRL_BYTES} bytes")
    except httpx.HTTPError as error:
        raise CrlFetchError(f"{type(error).__name__}: {error}") from None
    try:
        if bytes(body[:10]) == b"-----BEGIN":
            return x509.load_pem_x509_crl(bytes(body))
        return x509.load_der_x509_crl(bytes(body))
    except ValueError as error:
        raise CrlFetchError(f"not a CRL: {error}") from None


def _crl_signer(
    crl: x509.CertificateRevocationList, root: TrustedRoot, issuer_sha256: bytes
) -> x509.Certificate | None:
    """The CA certificate whose key signed ``crl``: the root, or an issuing CA seen in a chain."""
    candidates = [root.certificate] if crl.issuer == root.certificate.subject else []
    seen = (
        ExternalCertificate.objects.filter(root=root.name, issuer_sha256=issuer_sha256)
        .values_list("issuer_der", flat=True)
        .distinct()
    )
    candidates += [x509.load_der_x509_certificate(bytes(der)) for der in seen]
    signing_keys = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
    for candidate in candidates:
        key = candidate.public_key()
        if (
            isinstance(key, signing_keys)
            and candidate.subject == crl.issuer
            and crl.is_signature_valid(key)
        ):
            return candidate
    return None


@dataclass(frozen=True)
class CrlsRefreshed:
    fetched: int
    failed: int
    revoked: int


def external_crls_refresh() -> CrlsRefreshed:
    """Fetch the CRLs of the trusted roots' CAs; remove the handlers of certificates they list.

    A CRL replaces the one kept for its issuer when it is newer, unless the kept one was
    verified (with the root, or an issuing CA from a chain once accepted) and the new one
    cannot be. Until a certificate of an issuing CA has been used, its CRLs are kept as
    fetched: every use checks the CRL again with the issuing CA of the chain presented, so a
    forged one refuses changes but never admits one. A fetch that fails keeps the CRL we
    have: once its nextUpdate passes, certificates under it are refused.
    """
    fetched = failed = revoked = 0
    now = timezone.now()
    for root in trusted_roots():
        for url in root.crl_urls:
            try:
                crl = _crl_fetch(url)
            except CrlFetchError as error:
                failed += 1
                logger.warning(
                    "external crl not fetched", root=root.name, url=url, error=str(error)
                )
                continue
            issuer_sha256 = name_sha256(crl.issuer)
            signer = _crl_signer(crl, root, issuer_sha256)
            next_update = crl.next_update_utc
            with transaction.atomic():
                kept = (
                    ExternalCrl.objects.select_for_update()
                    .filter(issuer_sha256=issuer_sha256)
                    .first()
                )
                # A CRL whose signature we could check is never replaced by one we cannot.
                if next_update is None or (kept is not None and kept.verified and signer is None):
                    failed += 1
                    logger.warning("external crl not kept", root=root.name, url=url)
                    continue
                if kept is None or crl.last_update_utc > kept.this_update:
                    ExternalCrl.objects.update_or_create(
                        issuer_sha256=issuer_sha256,
                        defaults={
                            "issuer": crl.issuer.rfc4514_string()[:1000],
                            "root": root.name,
                            "url": url,
                            "der": crl.public_bytes(serialization.Encoding.DER),
                            "this_update": crl.last_update_utc,
                            "next_update": next_update,
                            "fetched_at": now,
                            "verified": signer is not None,
                        },
                    )
                fetched += 1
                if signer is not None:
                    revoked += _external_certificates_revoke(crl, issuer_sha256, now)
    return CrlsRefreshed(fetched=fetched, failed=failed, revoked=revoked)


def _external_certificates_revoke(
    crl: x509.CertificateRevocationList, issuer_sha256: bytes, now: datetime
) -> int:
    """Mark revoked the kept certificates ``crl`` lists; their handlers go (and are logged)."""
    listed = {entry.serial_number for entry in crl}
    if not listed:
        return 0
    revoked = 0
    certificates = ExternalCertificate.objects.select_for_update().filter(
        issuer_sha256=issuer_sha256, revoked_at__isnull=True
    )
    for certificate in certificates:
        if int(certificate.serial, 16) in listed:
            certificate.revoked_at = now
            certificate.save(update_fields=["revoked_at"])
            certificate_revoked.send(sender=ExternalCertificate, certificate=certificate)
            logger.info(
                "external certificate revoked", root=certificate.root, serial=certificate.serial
            )
            revoked += 1
    return revoked
