"""``manage.py apikey_create SLUG --scope SCOPE``: issue another key to a provider (rotation)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.problems import Problem
from providers.choices import Scope
from providers.models import Provider
from providers.services import api_key_create


class Command(BaseCommand):
    help = "Issue a new API key to an existing provider and print it. The key is shown only once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--scope",
            required=True,
            choices=Scope.values,
            help="What the key may do: lookup, directory (also publishes), admin (manages keys)",
        )
        parser.add_argument("--label", default="")

    def handle(self, *args: Any, slug: str, scope: str, label: str, **options: Any) -> None:
        provider = Provider.objects.filter(slug=slug).first()
        if provider is None:
            raise CommandError(f"No provider '{slug}'.")
        try:
            issued = api_key_create(provider=provider, scope=Scope(scope), label=label)
        except Problem as error:  # the provider holds as many live keys as it may
            raise CommandError(str(error.detail)) from error
        self.stderr.write(
            f"New {scope} API key for '{slug}' ({issued.api_key.prefix}…, shown only once):"
        )
        self.stdout.write(issued.secret)
