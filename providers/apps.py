from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Providers"

    def ready(self) -> None:
        from providers.models import ApiKey, Provider
        from providers.selectors import api_key_cache_clear

        # A key revoked or a provider deactivated in this process takes effect here at once
        # (other processes: within RS_API_KEY_CACHE_SECONDS).
        for model in (ApiKey, Provider):
            post_save.connect(api_key_cache_clear, sender=model, dispatch_uid=f"keys-{model}")
            post_delete.connect(api_key_cache_clear, sender=model, dispatch_uid=f"keys-{model}-")
