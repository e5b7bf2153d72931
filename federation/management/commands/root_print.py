"""``manage.py root_print``: print this service's root CA certificate (PEM), for its peers.

A peer's operator configures it as the root trusted for this service's advertisements
(``manage.py peer_add … --root``, docs/federation.md). The same PEM is served at
``GET /ca/root.pem``, but a root fetched over the network proves nothing: give it out of band,
or compare the SHA-256 fingerprint written to standard error. Reads ``RS_KEY_DIR`` only: needs
no database and no passphrase.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ca.authority import ROOT_CERTIFICATE_FILE


class Command(BaseCommand):
    help = "Print this service's root CA certificate (PEM); its fingerprint to standard error."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.RS_KEY_DIR) / ROOT_CERTIFICATE_FILE
        try:
            pem = path.read_bytes()
            root = x509.load_pem_x509_certificate(pem)
        except FileNotFoundError:
            raise CommandError(
                f"no root certificate at {path}: run `manage.py bootstrap`"
            ) from None
        except ValueError:
            raise CommandError(f"{path} is not a PEM certificate") from None
        self.stdout.write(pem.decode("ascii"), ending="")
        self.stderr.write(f"SHA-256 fingerprint: {root.fingerprint(hashes.SHA256()).hex()}")
