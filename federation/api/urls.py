from django.urls import path

from federation.api.views import AdvertisementApi

# At the root.
well_known_urlpatterns = [
    path(".well-known/rs-advertisement", AdvertisementApi.as_view(), name="rs-advertisement"),
]
