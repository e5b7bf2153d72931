"""Signals the CA sends, so that other apps react to its changes without it knowing them.

``certificate_revoked(certificate)`` is sent inside the revoking transaction, after the
revocation is logged: receivers that change data and log it do so in the same transaction.
"""

from __future__ import annotations

from django.dispatch import Signal

certificate_revoked = Signal()
