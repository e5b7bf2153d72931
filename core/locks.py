"""PostgreSQL advisory-lock keys, all in one place so that no two purposes ever share one; and
the one order in which every change takes its locks.

Each key is "RS" (0x5253) followed by a purpose number. Transaction-scoped locks
(``pg_advisory_xact_lock``) are released by the commit or rollback of the transaction that
took them, so a crashed process never leaves one held.

Lock order
----------
A change that takes more than one lock takes them in this order, so that no two changes ever
wait for each other (a deadlock, which PostgreSQL breaks by failing one of them):

1. the provider's row (``api_key_create``);
2. the CA's rows: the challenge (issuance), a certificate request or dispute, then the
   certificate, ours or another CA's (a revocation; a handler change, by the certificate that
   signed it); a CRL refresh of another CA takes its kept CRL's row, then the certificates it
   lists, in primary-key order; then :data:`NUMBER`, the number lock's, for the changes that
   read or change it (issuance, lock, unlock, approval, refusal, dispute);
3. the request's ``jti`` (the unique row a signed change inserts);
4. the handler rows, in primary-key order when there are several: a revocation locks those of
   its certificate (the ``certificate_revoking`` signal) before it logs anything; a PUT takes
   :data:`HANDLER` for its handler's key first, the row it may have to create;
5. the number's label (the row ``number_label_keep`` inserts);
6. the advisory locks :data:`CHALLENGE_LIMITS` (their keys sorted) and :data:`CRL_NUMBER`;
   :data:`ADVERTISEMENT`, taken alone by the signing of this service's advertisement.

Appending to the log takes no lock: an entry is a new row, sequenced after its transaction
commits (transparency.services).

Row locks cover only the rows a change writes (``select_for_update(of=("self",))`` when the
query joins others): a provider's row locked ``FOR UPDATE`` would stop every insert that names
the provider (its foreign key takes a ``KEY SHARE`` lock), and every change inserts such rows.
:data:`LOG_INTEGRATE` (which the sequencer runs under) is only ever tried, never awaited, and by
a transaction that holds nothing else.
"""

from __future__ import annotations

from typing import Final

# 0x5253_0001 was the log's append lock, which appends no longer take: never reuse it.

LOG_INTEGRATE: Final = 0x5253_0002
"""One sequencer and integrator at a time: gives committed entries their indices, hashes them
into tiles and signs (transparency.services)."""

CHALLENGE_LIMITS: Final = 0x5253_0003
"""Namespace of the two-key locks on each rate-limit counter of SMS challenges (ca.limits)."""

CRL_NUMBER: Final = 0x5253_0004
"""Serialises CRL publication, so CRL numbers strictly increase (ca). A revocation takes it
before its log entry, so that a CRL refresh signing meanwhile delays revocations alone."""

HANDLER: Final = 0x5253_0005
"""Namespace of the two-key locks on a handler's key (provider, number, service): of two PUTs
that find no handler, one creates it and the other then replaces it (directory.services)."""

NUMBER: Final = 0x5253_0006
"""Namespace of the two-key locks on a number, for its lock (ca.services.locks): a certificate
issued for it and a lock set on it never miss each other."""

WITNESS: Final = 0x5253_0007
"""Namespace of the two-key session locks on a witness (``transparency.models.Witness``'s id):
one submitter at a time talks to a witness and records its state (transparency.services).
Session-scoped, as a submission waits on the network and holds no transaction meanwhile."""

IDEMPOTENCY: Final = 0x5253_0008
"""Namespace of the two-key session locks on an ``Idempotency-Key`` (provider, key): one request
with a key runs at a time; a second one sent meanwhile is answered 409 (providers.idempotency).
Session-scoped, as it is held across the request's own transactions; taken before any of them."""


ADVERTISEMENT: Final = 0x5253_0009
"""Serialises the signing of this service's range advertisement (federation.services): two
beat runs at once sign and log one advertisement, not two."""
