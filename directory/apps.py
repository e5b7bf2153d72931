from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class DirectoryConfig(AppConfig):
    name = "directory"
    verbose_name = "Directory"

    def ready(self) -> None:
        from ca.signals import certificate_revoked
        from directory.models import ApiKey, Provider
        from directory.selectors import api_key_cache_clear
        from directory.services import handlers_remove_revoked

        certificate_revoked.connect(handlers_remove_revoked, dispatch_uid="handlers-revoked")

        # A key revoked or a provider deactivated in this process takes effect here at once
        # (other processes: within RS_API_KEY_CACHE_SECONDS).
        for model in (ApiKey, Provider):
            post_save.connect(api_key_cache_clear, sender=model, dispatch_uid=f"keys-{model}")
            post_delete.connect(api_key_cache_clear, sender=model, dispatch_uid=f"keys-{model}-")
