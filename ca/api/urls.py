from django.urls import path

import core.converters  # noqa: F401  (registers <serial:>, <number:>, ...)
from ca.api import views

api_urlpatterns = [
    path("challenges", views.ChallengesApi.as_view(), name="challenges"),
    path("challenges/<uuid:challenge_id>", views.ChallengeApi.as_view(), name="challenge"),
    path(
        "challenges/<uuid:challenge_id>/cancel",
        views.ChallengeCancelApi.as_view(),
        name="challenge-cancel",
    ),
    path(
        "challenges/<uuid:challenge_id>/verify",
        views.ChallengeVerifyApi.as_view(),
        name="challenge-verify",
    ),
    path("certificates", views.CertificatesApi.as_view(), name="certificates"),
    path("certificates/<serial:serial>", views.CertificateApi.as_view(), name="certificate"),
    path(
        "certificates/<serial:serial>/revoke",
        views.CertificateRevokeApi.as_view(),
        name="certificate-revoke",
    ),
    path(
        "certificates/<serial:serial>/lock",
        views.CertificateLockApi.as_view(),
        name="certificate-lock",
    ),
    path(
        "certificates/<serial:serial>/unlock",
        views.CertificateUnlockApi.as_view(),
        name="certificate-unlock",
    ),
    path(
        "certificate-requests", views.CertificateRequestsApi.as_view(), name="certificate-requests"
    ),
    path(
        "certificate-requests/<uuid:request_id>",
        views.CertificateRequestApi.as_view(),
        name="certificate-request",
    ),
    path(
        "certificate-requests/<uuid:request_id>/approve",
        views.CertificateRequestApproveApi.as_view(),
        name="certificate-request-approve",
    ),
    path(
        "certificate-requests/<uuid:request_id>/refuse",
        views.CertificateRequestRefuseApi.as_view(),
        name="certificate-request-refuse",
    ),
    path("disputes", views.DisputesApi.as_view(), name="disputes"),
    path("disputes/<uuid:dispute_id>", views.DisputeApi.as_view(), name="dispute"),
    path("passports/verify", views.PassportVerifyApi.as_view(), name="passports-verify"),
    path("twilio/status", views.TwilioStatusApi.as_view(), name="twilio-status"),
]

repository_urlpatterns = [
    path("root.pem", views.RootCertificateApi.as_view(), name="ca-root"),
    path(
        "certs/<repository_id:certificate_id>.pem",
        views.CertificateChainApi.as_view(),
        name="ca-certificate",
    ),
    path("crl", views.CrlApi.as_view(), name="ca-crl"),
]
