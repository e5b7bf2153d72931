"""Number labels: how the log names a phone number without revealing it (DESIGN §4.2).

A label is the RFC 9381 ECVRF output (ECVRF-EDWARDS25519-SHA512-TAI) of the E.164 string under
the log's VRF key. Only the service can compute it, so nobody can test a guessed number against
the log without asking the service, and the proof lets whoever asks check the answer.

Proofs are deterministic, so the label of a number that got a certificate is kept
(``models.Label``) and read back by lookups.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from resolution.protocol import vrf
from transparency.keys import log_keys
from transparency.models import Label


@dataclass(frozen=True)
class NumberLabel:
    """``label`` (64 bytes, hex in entries) and the ``proof`` that it belongs to the number."""

    label: bytes
    proof: bytes


def number_label(e164: str) -> NumberLabel:
    """The label of an E.164 number (``+`` and digits) and its VRF proof: kept, or computed."""
    kept = Label.objects.filter(number=e164).values_list("label", "proof").first()
    if kept is not None:
        return NumberLabel(label=bytes(kept[0]), proof=bytes(kept[1]))
    return number_label_compute(e164)


def number_label_keep(e164: str) -> NumberLabel:
    """Compute the label and keep it for later lookups (in the caller's transaction)."""
    computed = number_label_compute(e164)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Label._meta.db_table} (number, label, proof) "  # noqa: S608 (our table)
            "VALUES (%s, %s, %s) ON CONFLICT (number) DO NOTHING",
            [e164, computed.label, computed.proof],
        )
    return computed


def number_label_compute(e164: str) -> NumberLabel:
    """The label and proof, computed (about a millisecond of CPU)."""
    proof = log_keys().vrf_prove(e164.encode())
    return NumberLabel(label=vrf.proof_to_hash(proof), proof=proof)
