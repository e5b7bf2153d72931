"""Federation's HTTP API: this service's range advertisement (DESIGN §7.4)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from core.ranges import served_blocks
from core.schema import problem
from core.throttling import CaReadRateThrottle
from federation.problems import AdvertisementNotFound
from federation.selectors import advertisement_latest

JOSE = "application/jose"
# Peers fetch it hourly or so; a new one is signed daily.
ADVERTISEMENT_CACHE = "public, max-age=300"


class AdvertisementApi(APIView):
    """This service's newest range advertisement: the compact JWS its peers fetch and verify
    against the root they trust for it. Serving it signs nothing: beat does (federation.tasks).
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [CaReadRateThrottle]

    @extend_schema(
        operation_id="federation_advertisement",
        auth=[],
        responses={
            (200, JOSE): OpenApiTypes.STR,
            404: problem(
                AdvertisementNotFound,
                note="The service serves every number (no RS_SERVED_RANGES), or has not "
                "signed its advertisement yet.",
            ),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        if not served_blocks():
            raise AdvertisementNotFound("This service serves every number: it advertises none.")
        advertisement = advertisement_latest()
        if advertisement is None:
            raise AdvertisementNotFound("No advertisement has been signed yet; retry later.")
        response = HttpResponse(advertisement.token, content_type=JOSE)
        response["Cache-Control"] = ADVERTISEMENT_CACHE
        return response
