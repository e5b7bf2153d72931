"""URL routes. API errors, including unknown URLs, are problem+json (core.problems)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from ca.api.urls import api_urlpatterns as ca_api
from ca.api.urls import repository_urlpatterns as ca_repository
from core.middleware import API_DOCS_CONTENT_SECURITY_POLICY, content_security_policy
from core.views import HealthApi, problem_page
from federation.api.urls import well_known_urlpatterns as federation_well_known
from invitations.api.urls import keys_urlpatterns as invitation_keys
from transparency.api.urls import json_urlpatterns as log_json
from transparency.api.urls import static_urlpatterns as log_static
from web.urls import admin_urlpatterns as web_admin

# Swagger UI and ReDoc inject their own styles (and ReDoc a worker): scripts stay our own.
api_docs = content_security_policy(API_DOCS_CONTENT_SECURITY_POLICY)

urlpatterns = [
    path("healthz", HealthApi.as_view(), name="healthz"),
    path("problems/<slug:slug>", problem_page, name="problem"),
    path("v1/", include("providers.api.urls")),
    path("v1/", include("directory.api.urls")),
    path("v1/", include(ca_api)),
    path("v1/", include("webhooks.api.urls")),
    path("v1/", include("invitations.api.urls")),
    path("v1/", include("federation.api.urls")),
    path("v1/log/", include(log_json)),
    path("log/", include(log_static)),
    path("ca/", include(ca_repository)),
    path("", include(invitation_keys)),
    path("", include(federation_well_known)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        api_docs(SpectacularSwaggerSplitView.as_view(url_name="schema")),
        name="swagger-ui",
    ),
    path("api/redoc/", api_docs(SpectacularRedocView.as_view(url_name="schema")), name="redoc"),
    path("admin/", include(web_admin)),
    path("admin/", admin.site.urls),
    path("", include("web.urls")),
]

handler400 = "core.problems.handler400"
handler403 = "core.problems.handler403"
handler404 = "core.problems.handler404"
handler500 = "core.problems.handler500"
