from django.urls import path

from webhooks.api.views import (
    EndpointApi,
    EndpointDeliveriesApi,
    EndpointsApi,
    EndpointSecretApi,
)

urlpatterns = [
    path("webhooks", EndpointsApi.as_view(), name="webhooks"),
    path("webhooks/<uuid:endpoint_id>", EndpointApi.as_view(), name="webhook"),
    path("webhooks/<uuid:endpoint_id>/secret", EndpointSecretApi.as_view(), name="webhook-secret"),
    path(
        "webhooks/<uuid:endpoint_id>/deliveries",
        EndpointDeliveriesApi.as_view(),
        name="webhook-deliveries",
    ),
]
