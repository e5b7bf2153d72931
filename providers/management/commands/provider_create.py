"""``manage.py provider_create SLUG --name NAME [--exists-ok]``: register a provider and print its
first key, an ``admin`` key (it manages the provider's other keys). With ``--exists-ok``, a
provider of that slug that exists already gets a new admin key instead of an error (a script
run twice)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from providers.choices import Scope
from providers.models import Provider
from providers.services import api_key_create, provider_create


class Command(BaseCommand):
    help = (
        "Register a provider (app vendor) and print a new admin API key (shown only once): with "
        "it, the provider creates keys of narrower scope through POST /v1/keys."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Short identifier, e.g. 'acme-chat'")
        parser.add_argument("--name", required=True, help="Display name")
        parser.add_argument("--label", default="", help="A note on the key, e.g. 'production'")
        parser.add_argument(
            "--exists-ok",
            action="store_true",
            help="if the provider exists, print a new admin key of it rather than fail",
        )

    def handle(
        self, *args: Any, slug: str, name: str, label: str, exists_ok: bool, **options: Any
    ) -> None:
        existing = Provider.objects.filter(slug=slug).first() if exists_ok else None
        try:
            with transaction.atomic():
                provider = existing or provider_create(slug=slug, name=name)
                issued = api_key_create(provider=provider, scope=Scope.ADMIN, label=label)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        done = "exists; a new admin API key" if existing else "created. Its admin API key"
        self.stderr.write(f"Provider '{provider.slug}' {done} (shown only once):")
        self.stdout.write(issued.secret)
