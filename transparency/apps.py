from django.apps import AppConfig


class TransparencyConfig(AppConfig):
    name = "transparency"
    verbose_name = "Transparency log"

    def ready(self) -> None:
        # RS_WITNESSES and RS_WITNESS_POLICY are checked as each process starts (web, worker,
        # commands): a witness key or policy that does not parse stops it with the reason.
        from transparency import tasks  # noqa: F401  (registered: services queue them by name)
        from transparency.witnesses import witnesses_validate

        witnesses_validate()
