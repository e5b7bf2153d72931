"""The server's enumerations agree with the protocol's, which the SDK and ``rs`` use."""

from __future__ import annotations

from ca.choices import RevocationReason
from resolution.protocol.certificates import REVOCATION_REASONS


def test_revocation_reasons_are_the_protocols_in_its_order():
    # The database and the admin need TextChoices (labels); the protocol names the values once.
    assert tuple(RevocationReason.values) == REVOCATION_REASONS
