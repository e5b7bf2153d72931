from django.urls import path

import core.converters  # noqa: F401  (registers <serial:>, <number:>, ...)
from providers.api.views import ApiKeyRevokeApi, ApiKeysApi, CallerApi

urlpatterns = [
    path("me", CallerApi.as_view(), name="caller"),
    path("keys", ApiKeysApi.as_view(), name="api-keys"),
    path("keys/<key_prefix:prefix>/revoke", ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
]
