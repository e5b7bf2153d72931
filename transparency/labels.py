"""Number labels: how the log names a phone number without revealing it (DESIGN §4.2).

A label is the RFC 9381 ECVRF output (ECVRF-EDWARDS25519-SHA512-TAI) of the E.164 string under
the log's VRF key. Only the service can compute it, so nobody can test a guessed number against
the log without asking the service, and the proof lets whoever asks check the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from resolution import vrf
from transparency.keys import log_keys


@dataclass(frozen=True)
class NumberLabel:
    """``label`` (64 bytes, hex in entries) and the ``proof`` that it belongs to the number."""

    label: bytes
    proof: bytes


def number_label(e164: str) -> NumberLabel:
    """The label of an E.164 number (``+`` and digits) and its VRF proof."""
    proof = log_keys().vrf_prove(e164.encode())
    return NumberLabel(label=vrf.proof_to_hash(proof), proof=proof)
