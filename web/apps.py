from django.apps import AppConfig


class WebConfig(AppConfig):
    """Pages for people: the landing page, the log explorer and the operator dashboard."""

    name = "web"
    verbose_name = "Pages"
