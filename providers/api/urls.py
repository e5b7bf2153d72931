from django.urls import path

from providers.api.views import ApiKeyRevokeApi, ApiKeysApi, CallerApi

urlpatterns = [
    path("me", CallerApi.as_view(), name="caller"),
    path("keys", ApiKeysApi.as_view(), name="api-keys"),
    path("keys/<str:prefix>/revoke", ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
]
