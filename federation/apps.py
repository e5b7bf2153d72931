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

        # Lookups' referrals come from an index of the peers' claims kept in each process
        # (federation.selectors.referrals): a change made here is seen here at once.
        from django.db import transaction
        from django.db.models.signals import post_delete, post_save

        from federation.models import Peer, PeerAdvertisement
        from federation.selectors import claims_forget

        def changed(**_: object) -> None:
            claims_forget()
            transaction.on_commit(claims_forget)

        for model in (Peer, PeerAdvertisement):
            post_save.connect(changed, sender=model, weak=False)
            post_delete.connect(changed, sender=model, weak=False)
