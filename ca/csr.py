"""Reading certificate signing requests (RFC 2986): only the public key is ever used."""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec

from ca.problems import CsrKeyUnsupported, CsrMalformed, CsrSignatureInvalid

# A P-256 CSR in PEM is about 500 bytes; anything much larger is not one of ours.
MAX_CSR_LENGTH = 8192


def csr_public_key(pem: str) -> ec.EllipticCurvePublicKey:
    """The P-256 public key of a PEM CSR whose self-signature verifies.

    The CSR's subject, attributes and extensions are ignored: the CA decides what the
    certificate says (DESIGN §4.3).
    """
    if len(pem) > MAX_CSR_LENGTH or not pem.isascii():
        raise CsrMalformed(f"A CSR is ASCII PEM of at most {MAX_CSR_LENGTH} characters.")
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
        public_key = csr.public_key()
    except ValueError:
        raise CsrMalformed(
            "Could not read a PEM 'CERTIFICATE REQUEST' (PKCS #10) from the csr field."
        ) from None
    except UnsupportedAlgorithm:
        raise CsrKeyUnsupported("The CSR's key type is not supported; use P-256.") from None
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise CsrKeyUnsupported("Number certificates are for P-256 (secp256r1) keys only.")
    try:
        valid = csr.is_signature_valid
    except UnsupportedAlgorithm:
        valid = False
    if not valid:
        raise CsrSignatureInvalid(
            "The CSR is not signed by its own key: it does not prove possession of the key."
        )
    return public_key
