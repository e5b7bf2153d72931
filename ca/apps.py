from django.apps import AppConfig


class CaConfig(AppConfig):
    name = "ca"
    verbose_name = "Certificate authority"

    def ready(self) -> None:
        # Registered in every process, web ones included: services queue them by name.
        from ca import tasks  # noqa: F401
