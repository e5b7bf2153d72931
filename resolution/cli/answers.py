"""A locked holder's answer to a certificate request a number lock holds back, as
``rs approve`` and ``rs refuse`` send it: signed with the key of the certificate stored for the
request's number.

Public API: ``request_answer``.
"""

from __future__ import annotations

from resolution.cli.context import Context
from resolution.client.api import CertificateRequest, approve_token, refuse_token


def request_answer(ctx: Context, request_id: str, *, approve: bool) -> CertificateRequest:
    """Approve or refuse request ``request_id``, with the certificate stored for its number
    (which must be locked: ``rs lock``); the request as the service then shows it."""
    ctx.needs_api_key()
    request = ctx.client.certificate_request_get(request_id)
    credentials = ctx.credentials(request.number)
    key, serial = credentials.key, credentials.serial
    if approve:
        token = approve_token(key, serial, request=request.id)
        return ctx.client.certificate_request_approve(request.id, token)
    token = refuse_token(key, serial, request=request.id)
    return ctx.client.certificate_request_refuse(request.id, token)
