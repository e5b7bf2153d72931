"""``manage.py bootstrap``: create what the service needs on first start; safe to run again.

Each app contributes its own step (the log's keys, the CA) as a function listed here, and each
step does nothing when its work is already done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

# Dotted paths of zero-argument functions returning a one-line description of what they did.
STEPS: list[str] = [
    "transparency.keys.log_keys_bootstrap",
    "ca.authority.ca_bootstrap",
    "ca.services.crls.crl_bootstrap",
    "federation.keys.advertisement_keys_bootstrap",
    "federation.services.advertisement_bootstrap",
    "invitations.keys.invitation_key_bootstrap",
]


class Command(BaseCommand):
    help = "Create the service's keys and other first-start state (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        for path in STEPS:
            step: Callable[[], str] = import_string(path)
            self.stdout.write(step())
