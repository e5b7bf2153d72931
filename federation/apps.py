from django.apps import AppConfig


class FederationConfig(AppConfig):
    name = "federation"
    verbose_name = "Several services"

    def ready(self) -> None:
        # Beat and the workers run them, in every process; and the checks of the settings.
        from federation import checks, tasks  # noqa: F401
