from django.apps import AppConfig


class CaConfig(AppConfig):
    name = "ca"
    verbose_name = "Certificate authority"

    def ready(self) -> None:
        # Registered in every process, web ones included: beat and the workers run them; and
        # the checks of the CA's settings.
        from ca import checks, tasks  # noqa: F401
        from ca.services.delivery import challenge_sms_sender
        from outbox.senders import sender_register

        # Whoever dispatches the outbox sends challenge SMS.
        sender_register(challenge_sms_sender())
