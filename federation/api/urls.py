from django.urls import path

from federation.api.views import AdvertisementApi, MapApi

# At the root.
well_known_urlpatterns = [
    path(".well-known/rs-advertisement", AdvertisementApi.as_view(), name="rs-advertisement"),
]

# Under /v1/.
urlpatterns = [
    path("map", MapApi.as_view(), name="federation-map"),
]
