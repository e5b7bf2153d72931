from django.apps import AppConfig


class CaConfig(AppConfig):
    name = "ca"
    verbose_name = "Certificate authority"
