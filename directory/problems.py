"""The directory's domain errors, each a problem type documented at /problems/<slug>."""

from __future__ import annotations

from core.problems import Problem


class ServiceUnknown(Problem):
    slug = "service-unknown"
    title = "Unknown service"
    status_code = 400


class UriInvalid(Problem):
    slug = "uri-invalid"
    title = "The URI is not valid for this service"
    status_code = 400


class HandlerInvalid(Problem):
    slug = "handler-invalid"
    title = "The handler's fields are not valid"
    status_code = 400


class HandlerNotFound(Problem):
    slug = "handler-not-found"
    title = "This provider has no handler for this number and service"
    status_code = 404


class SigningCertificateUnknown(Problem):
    slug = "signing-certificate-unknown"
    title = "The JWS names no certificate this service issued"
    status_code = 403


class SigningCertificateOfAnotherProvider(Problem):
    slug = "signing-certificate-of-another-provider"
    title = "The signing certificate was issued to another provider"
    status_code = 403


class SigningCertificateNotValid(Problem):
    slug = "signing-certificate-not-valid"
    title = "The signing certificate is revoked, expired or not yet valid"
    status_code = 403


class SigningCertificateNumberMismatch(Problem):
    slug = "signing-certificate-number-mismatch"
    title = "The signing certificate does not cover this number"
    status_code = 403


class RequestReplayed(Problem):
    slug = "jws-replayed"
    title = "This JWS 'jti' was already used"
    status_code = 409
