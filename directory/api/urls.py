from django.urls import path

from directory.api.views import ApiKeyRevokeApi, ApiKeysApi, CallerApi, HandlerApi, NumberApi

urlpatterns = [
    path("me", CallerApi.as_view(), name="caller"),
    path("keys", ApiKeysApi.as_view(), name="api-keys"),
    path("keys/<str:prefix>/revoke", ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
    path("numbers/<str:number>", NumberApi.as_view(), name="number-lookup"),
    path(
        "numbers/<str:number>/handlers/<str:service>", HandlerApi.as_view(), name="number-handler"
    ),
]
