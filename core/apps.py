from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Registered on import: the OpenAPI extensions, and the deployment checks.
        from core import checks, schema  # noqa: F401

        checks.rates_validate()
        checks.served_ranges_validate()
