from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = "Outbox"

    def ready(self) -> None:
        # Registered in every process, web ones included: a commit queues the dispatch by name.
        from outbox import tasks  # noqa: F401
