"""``manage.py apikey_create SLUG``: issue another key to a provider (rotation)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from providers.models import Provider
from providers.services import api_key_create


class Command(BaseCommand):
    help = "Issue a new API key to an existing provider and print it. The key is shown only once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--label", default="")

    def handle(self, *args: Any, slug: str, label: str, **options: Any) -> None:
        provider = Provider.objects.filter(slug=slug).first()
        if provider is None:
            raise CommandError(f"No provider '{slug}'.")
        issued = api_key_create(provider=provider, label=label)
        self.stderr.write(f"New API key for '{slug}' ({issued.api_key.prefix}…, shown only once):")
        self.stdout.write(issued.secret)
