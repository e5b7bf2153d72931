"""Signals the CA sends, so that other apps react to its changes without it knowing them.

A revocation sends two, both inside the revoking transaction, after the certificate's row is
locked:

- ``certificate_revoking(certificate)`` before anything is logged: receivers lock the rows they
  will change (``core.locks``' order), and change nothing yet;
- ``certificate_revoked(certificate)`` after the revocation is logged: receivers change those
  rows and log it, in the same transaction.
"""

from __future__ import annotations

from django.dispatch import Signal

certificate_revoking = Signal()
certificate_revoked = Signal()

# A renewal signed by the certificate renewed (ca.services.renewal), alike:
# ``certificate_renewing(certificate)`` before anything is logged (receivers lock the rows they
# will change), ``certificate_renewed(certificate, renewal)`` once the new certificate is logged
# (receivers move those rows to it and log that; each returns how many it moved).
certificate_renewing = Signal()
certificate_renewed = Signal()

# The number lock's (ca.services.locks), each sent inside the transaction of its change, after
# it is logged; the webhooks app tells the providers concerned.
certificate_issued = Signal()  # certificate
certificate_requested = Signal()  # request: held back by a lock
certificate_request_closed = Signal()  # request: approved, refused, or issued after the wait
dispute_opened = Signal()  # dispute
dispute_closed = Signal()  # dispute: revoked or dismissed
