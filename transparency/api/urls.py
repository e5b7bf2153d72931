from django.urls import path, re_path

import core.converters  # noqa: F401  (registers <serial:>, <number:>, ...)
from transparency.api import views

static_urlpatterns = [
    path("checkpoint", views.StaticCheckpointApi.as_view(), name="log-static-checkpoint"),
    path("key", views.LogKeyApi.as_view(), name="log-key"),
    path("witness-policy", views.WitnessPolicyApi.as_view(), name="log-witness-policy"),
    re_path(r"^tile/(?P<path>[0-9a-z./]{1,128})$", views.TileApi.as_view(), name="log-tile"),
]

json_urlpatterns = [
    path("checkpoint", views.CheckpointApi.as_view(), name="log-checkpoint"),
    path("entries", views.EntriesApi.as_view(), name="log-entries"),
    path("proofs/inclusion", views.InclusionProofApi.as_view(), name="log-inclusion-proof"),
    path("proofs/consistency", views.ConsistencyProofApi.as_view(), name="log-consistency-proof"),
    path("labels/<number:number>", views.LabelApi.as_view(), name="log-label"),
]
