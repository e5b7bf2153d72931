"""The do-not-invite list's digests: HMAC-SHA256 of a number's E.164 form, keyed from
``SECRET_KEY``, so that the list holds no number (a stolen table cannot be read back without
the key, which is not in the database).

A number is looked for under the current key and ``SECRET_KEY_FALLBACKS``: rotating the key
(with the old one kept as a fallback) does not forget who opted out; ``number_digest`` is what
is stored from then on.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.crypto import salted_hmac

_SALT = "rs.invitations.do-not-invite"


def number_digest(e164: str) -> bytes:
    """The digest stored for ``e164``, under the current ``SECRET_KEY``."""
    return salted_hmac(_SALT, e164, algorithm="sha256").digest()


def number_digests(e164: str) -> list[bytes]:
    """The digests ``e164`` may be stored under: the current key's, then each fallback's."""
    return [number_digest(e164)] + [
        salted_hmac(_SALT, e164, secret=secret, algorithm="sha256").digest()
        for secret in settings.SECRET_KEY_FALLBACKS
    ]
