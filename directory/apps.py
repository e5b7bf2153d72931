from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "directory"
    verbose_name = "Directory"

    def ready(self) -> None:
        from ca.signals import (
            certificate_renewed,
            certificate_renewing,
            certificate_revoked,
            certificate_revoking,
        )
        from directory.services import (
            handlers_carry_over,
            handlers_lock_renewing,
            handlers_lock_revoked,
            handlers_remove_revoked,
        )

        certificate_revoking.connect(handlers_lock_revoked, dispatch_uid="handlers-revoking")
        certificate_revoked.connect(handlers_remove_revoked, dispatch_uid="handlers-revoked")
        certificate_renewing.connect(handlers_lock_renewing, dispatch_uid="handlers-renewing")
        certificate_renewed.connect(handlers_carry_over, dispatch_uid="handlers-renewed")
