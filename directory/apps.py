from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "directory"
    verbose_name = "Directory"

    def ready(self) -> None:
        from ca.signals import certificate_revoked
        from directory.services import handlers_remove_revoked

        certificate_revoked.connect(handlers_remove_revoked, dispatch_uid="handlers-revoked")
