"""PostgreSQL advisory-lock keys, all in one place so that no two purposes ever share one.

Each key is "RS" (0x5253) followed by a purpose number. Transaction-scoped locks
(``pg_advisory_xact_lock``) are released by the commit or rollback of the transaction that
took them, so a crashed process never leaves one held.
"""

from __future__ import annotations

from typing import Final

LOG_APPEND: Final = 0x5253_0001
"""Serialises log appenders: indices are gapless and in commit order (transparency.services)."""

LOG_INTEGRATE: Final = 0x5253_0002
"""One integrator at a time hashes new entries into tiles and signs (transparency.services)."""

CHALLENGE_LIMITS: Final = 0x5253_0003
"""Namespace of the two-key locks on each rate-limit counter of SMS challenges (ca.limits)."""

CRL_NUMBER: Final = 0x5253_0004
"""Serialises CRL publication, so CRL numbers strictly increase (ca)."""
