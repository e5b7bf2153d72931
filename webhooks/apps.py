from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from ca.signals import (
            certificate_issued,
            certificate_request_closed,
            certificate_requested,
            certificate_revoked,
            dispute_closed,
            dispute_opened,
        )
        from outbox.senders import sender_register
        from webhooks import checks, tasks  # noqa: F401
        from webhooks.delivery import webhook_sender
        from webhooks.services import (
            certificate_issued_notify,
            certificate_request_closed_notify,
            certificate_requested_notify,
            certificate_revoked_notify,
            dispute_closed_notify,
            dispute_opened_notify,
        )

        # Whoever dispatches the outbox sends webhooks.
        sender_register(webhook_sender())
        # Each sent inside the transaction of its change (ca.signals): the event commits with it.
        certificate_revoked.connect(certificate_revoked_notify, dispatch_uid="webhooks-revoked")
        certificate_issued.connect(certificate_issued_notify, dispatch_uid="webhooks-issued")
        certificate_requested.connect(
            certificate_requested_notify, dispatch_uid="webhooks-requested"
        )
        certificate_request_closed.connect(
            certificate_request_closed_notify, dispatch_uid="webhooks-request-closed"
        )
        dispute_opened.connect(dispute_opened_notify, dispatch_uid="webhooks-dispute-opened")
        dispute_closed.connect(dispute_closed_notify, dispatch_uid="webhooks-dispute-closed")
