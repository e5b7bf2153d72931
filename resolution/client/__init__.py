"""The Python SDK: the REST client, the checks of what it answers, the log auditor and monitor,
and the local key store.

``from resolution.client import Client`` is the entry point (``resolution.client.api``).  Its
requests go through ``resolution.client.transport`` (one timeout and retry policy), its errors
are in ``resolution.client.errors``; ``resolution.client.verify`` checks issued certificates
and answers against the keys pinned in the store (``resolution.client.store``).  The log is
read by ``resolution.client.logreader``, audited by ``resolution.client.audit`` and watched
for one number by ``resolution.client.monitor``.  Everything verifies with
``resolution.protocol``.
"""

from resolution.client.api import (
    AppendedLog,
    Caller,
    CertificateRequest,
    CertificateState,
    Challenge,
    Client,
    ConsistencyProof,
    Dispute,
    EntriesPage,
    Handler,
    HandlerRemoved,
    HistoryEntry,
    InclusionProof,
    IssuedCertificate,
    LogEntry,
    LogKeys,
    LogPosition,
    LookupAnswer,
    NumberHistory,
    NumberLabel,
    PassportClaims,
    PassportSigner,
    PassportVerdict,
    approve_token,
    csr_pem,
    dispute_token,
    handler_delete_token,
    handler_put_token,
    history_token,
    lock_token,
    refuse_token,
    revoke_token,
    unlock_token,
)
from resolution.client.errors import ApiError, ClientError, NetworkError, ResponseError
from resolution.client.transport import DEFAULT_TIMEOUT
from resolution.client.verify import PinnedService, VerificationError

__all__ = [
    "DEFAULT_TIMEOUT",
    "ApiError",
    "AppendedLog",
    "Caller",
    "CertificateRequest",
    "CertificateState",
    "Challenge",
    "Client",
    "ClientError",
    "ConsistencyProof",
    "Dispute",
    "EntriesPage",
    "Handler",
    "HandlerRemoved",
    "HistoryEntry",
    "InclusionProof",
    "IssuedCertificate",
    "LogEntry",
    "LogKeys",
    "LogPosition",
    "LookupAnswer",
    "NetworkError",
    "NumberHistory",
    "NumberLabel",
    "PassportClaims",
    "PassportSigner",
    "PassportVerdict",
    "PinnedService",
    "ResponseError",
    "VerificationError",
    "approve_token",
    "csr_pem",
    "dispute_token",
    "handler_delete_token",
    "handler_put_token",
    "history_token",
    "lock_token",
    "refuse_token",
    "revoke_token",
    "unlock_token",
]
