from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "directory"
    verbose_name = "Directory"

    def ready(self) -> None:
        from ca.signals import certificate_revoked, certificate_revoking
        from directory.services import handlers_lock_revoked, handlers_remove_revoked

        certificate_revoking.connect(handlers_lock_revoked, dispatch_uid="handlers-revoking")
        certificate_revoked.connect(handlers_remove_revoked, dispatch_uid="handlers-revoked")
