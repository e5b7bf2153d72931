"""The resolution service's protocol, SDK and command line, in one distribution.

- ``resolution.protocol``: wire formats and cryptography (no HTTP, no files, no Django), shared
  by the server and its clients;
- ``resolution.client``: the SDK (REST client, log auditor and monitor, key store);
- ``resolution.cli``: the ``rs`` command.

``resolution.verify_lookup(answer, note_key, vrf_key, policy=None)`` checks a directory lookup
offline (``resolution.protocol.lookup``), and its checkpoint against a witness policy
(``resolution.protocol.policy``) when one is given.
"""

from resolution.protocol.lookup import (
    LookupQuorumError,
    LookupVerificationError,
    VerifiedHandler,
    VerifiedLookup,
    verify_lookup,
)

__all__ = [
    "LookupQuorumError",
    "LookupVerificationError",
    "VerifiedHandler",
    "VerifiedLookup",
    "verify_lookup",
]
__version__ = "0.1.0"
