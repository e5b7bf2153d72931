"""The number lock's signed requests (DESIGN §7.2): what each payload holds, for the server that
checks them and the clients that make them.

Each is a compact JWS (ES256) made with a number certificate's key, its header naming the
certificate by serial (``kid``), over a JSON object with ``iat`` (seconds; within five minutes
of the server's clock) and a fresh ``jti`` (8 to 128 printable ASCII characters)::

    lock, unlock      serial                              the certificate that locks
    approve, refuse   request                             a pending request's id
    dispute           disputed, challenge, statement?     a serial, a verified challenge's id
    renewal           renews, challenge                   the serial renewed, the challenge's id
"""

from __future__ import annotations

from typing import Final

LOCK_FIELDS: Final = frozenset({"serial", "iat", "jti"})
"""The payload of a lock or an unlock."""

DECISION_FIELDS: Final = frozenset({"request", "iat", "jti"})
"""The payload of an approval or a refusal."""

DISPUTE_FIELDS: Final = frozenset({"disputed", "challenge", "statement", "iat", "jti"})
"""The payload of a dispute (``statement`` optional)."""

RENEWAL_FIELDS: Final = frozenset({"renews", "challenge", "iat", "jti"})
"""The payload of a renewal (``POST /v1/certificates`` with ``renewal``), made with the key of
the certificate renewed: its handlers and its lock pass to the new certificate."""

STATEMENT_LENGTH: Final = 1000
"""The longest ``statement`` a dispute may carry, in characters."""
