"""``manage.py provider_create SLUG --name NAME``: register a provider and print its first key,
an ``admin`` key (it manages the provider's other keys)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from providers.choices import Scope
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

    def handle(self, *args: Any, slug: str, name: str, label: str, **options: Any) -> None:
        try:
            with transaction.atomic():
                provider = provider_create(slug=slug, name=name)
                issued = api_key_create(provider=provider, scope=Scope.ADMIN, label=label)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stderr.write(
            f"Provider '{provider.slug}' created. Its admin API key (shown only once):"
        )
        self.stdout.write(issued.secret)
