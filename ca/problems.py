"""The CA's domain errors, each a problem type documented at /problems/<slug>."""

from __future__ import annotations

from core.problems import Problem, ServiceUnavailable


class NumberNotServed(Problem):
    """A number outside the ranges this service serves (core.ranges): another resolution
    service holds its certificates. 421, as HTTP says of a request sent to a server that
    cannot answer for it (RFC 9110 §15.5.20). ``served_by`` lists the services known to serve
    it (federation)."""

    slug = "number-not-served"
    title = "This service does not serve the number"
    status_code = 421


class CountryNotAllowed(Problem):
    slug = "country-not-allowed"
    title = "SMS to this country is not allowed"
    status_code = 403


class ChallengeNotFound(Problem):
    slug = "challenge-not-found"
    title = "No such challenge"
    status_code = 404


class ChallengeExpired(Problem):
    slug = "challenge-expired"
    title = "The challenge has expired"
    status_code = 410


class ChallengeCodeWrong(Problem):
    slug = "challenge-code-wrong"
    title = "Wrong code"
    status_code = 400


class ChallengeFailed(Problem):
    slug = "challenge-failed"
    title = "Too many wrong codes: the challenge has ended"
    status_code = 409


class ChallengeAlreadyVerified(Problem):
    slug = "challenge-already-verified"
    title = "The challenge is already verified"
    status_code = 409


class ChallengeNotVerified(Problem):
    slug = "challenge-not-verified"
    title = "The challenge has not been answered"
    status_code = 409


class ChallengeCancelled(Problem):
    slug = "challenge-cancelled"
    title = "The challenge was cancelled by its provider"
    status_code = 409


class ChallengeUsed(Problem):
    slug = "challenge-used"
    title = "The challenge has already been used for a certificate"
    status_code = 409


class CsrMalformed(Problem):
    slug = "csr-malformed"
    title = "Not a PEM certificate signing request"
    status_code = 400


class CsrKeyUnsupported(Problem):
    slug = "csr-key-unsupported"
    title = "The CSR's key is not a P-256 key"
    status_code = 400


class CsrSignatureInvalid(Problem):
    slug = "csr-signature-invalid"
    title = "The CSR's signature does not verify"
    status_code = 400


class CertificateNotFound(Problem):
    slug = "certificate-not-found"
    title = "No such certificate"
    status_code = 404


class CertificateRevoked(Problem):
    slug = "certificate-revoked"
    title = "The certificate is revoked"
    status_code = 409


class CertificateExpired(Problem):
    slug = "certificate-expired"
    title = "The certificate has expired"
    status_code = 409


class TwilioSignatureInvalid(Problem):
    slug = "twilio-signature-invalid"
    title = "X-Twilio-Signature does not validate"
    status_code = 403


class CrlUnavailable(ServiceUnavailable):
    slug = "crl-unavailable"
    title = "No CRL has been signed yet"
    status_code = 503


class ChallengeNotForNumber(Problem):
    slug = "challenge-not-for-number"
    title = "The challenge proves control of another number"
    status_code = 400


class CertificateNotForNumber(Problem):
    slug = "certificate-not-for-number"
    title = "The signing certificate is not for this number"
    status_code = 403


class HolderNotLocked(Problem):
    slug = "holder-not-locked"
    title = "The signing certificate holds no lock on the number"
    status_code = 403


class CertificateRequestNotFound(Problem):
    slug = "certificate-request-not-found"
    title = "No such certificate request"
    status_code = 404


class CertificateRequestClosed(Problem):
    slug = "certificate-request-closed"
    title = "The certificate request is no longer pending"
    status_code = 409


class DisputeInvalid(Problem):
    slug = "dispute-invalid"
    title = "This certificate cannot be disputed"
    status_code = 409


class DisputeAlreadyOpen(Problem):
    slug = "dispute-already-open"
    title = "The certificate is already disputed"
    status_code = 409


class DisputeClosed(Problem):
    slug = "dispute-closed"
    title = "The dispute is already closed"
    status_code = 409


class DisputeNotFound(Problem):
    slug = "dispute-not-found"
    title = "No such dispute"
    status_code = 404
