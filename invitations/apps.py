from django.apps import AppConfig


class InvitationsConfig(AppConfig):
    name = "invitations"
    verbose_name = "Invitations"

    def ready(self) -> None:
        from ca.limits import shared_budget_register
        from directory.signals import handler_published
        from invitations import tasks  # noqa: F401
        from invitations.delivery import invitation_sms_sender
        from invitations.limits import invitation_sent_times
        from invitations.services import invitations_accept
        from outbox.senders import sender_register

        # Whoever dispatches the outbox sends invitation SMS.
        sender_register(invitation_sms_sender())
        # Invitations spend the provider's and the country's SMS budgets, as challenges do.
        shared_budget_register(invitation_sent_times)
        # In the transaction of each publication: the inviters that may see it are told.
        handler_published.connect(invitations_accept, dispatch_uid="invitations-accept")
