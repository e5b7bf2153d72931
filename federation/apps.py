from django.apps import AppConfig


class FederationConfig(AppConfig):
    name = "federation"
    verbose_name = "Several services"

    def ready(self) -> None:
        # Beat and the workers run them, in every process; and the checks of the settings.
        from core.ranges import served_elsewhere_register
        from federation import checks, tasks  # noqa: F401
        from federation.selectors import rs_serving_elsewhere

        # A 421 number-not-served names the services the peers' advertisements say serve it.
        served_elsewhere_register(rs_serving_elsewhere)
