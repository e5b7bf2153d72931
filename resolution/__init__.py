"""Wire formats and cryptography of the resolution service, shared by the server and its clients.

``resolution.verify_lookup(answer, note_key, vrf_key)`` checks a directory lookup offline
(``resolution.lookup``).
"""

from resolution.lookup import (
    LookupVerificationError,
    VerifiedHandler,
    VerifiedLookup,
    verify_lookup,
)

__all__ = ["LookupVerificationError", "VerifiedHandler", "VerifiedLookup", "verify_lookup"]
__version__ = "0.1.0"
