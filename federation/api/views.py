"""Federation's HTTP API: this service's range advertisement (DESIGN §7.4)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.gzip import gzip_page
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from core.ranges import served_blocks
from core.schema import problem
from core.signed_requests import JoseRenderer
from core.throttling import CaReadRateThrottle
from federation.problems import AdvertisementNotFound, MapNotFound
from federation.selectors import advertisement_latest
from federation.services import service_map_sign

JOSE = "application/jose"
# Peers fetch it hourly or so; a new one is signed daily.
ADVERTISEMENT_CACHE = "public, max-age=300"
# Apps replicate the map (rs map sync) hourly or so; peers' advertisements change about daily.
MAP_CACHE = "public, max-age=300"


class AdvertisementApi(APIView):
    """This service's newest range advertisement: the compact JWS its peers fetch and verify
    against the root they trust for it. Serving it signs nothing: beat does (federation.tasks).
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [CaReadRateThrottle]
    # Asked for as application/jose (what peers and rs send), or anything.
    renderer_classes = [JoseRenderer, JSONRenderer]

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


class MapApi(APIView):
    """The map of resolution services: every advertisement this service accepted (its own and
    its peers'), each with the root it trusts for it and the blocks of it accepted, as one
    compact JWS (``typ`` ``rs-map+jwt``, ES256, ``x5c`` this service's range certificate).
    Verify it against this service's CA root (``GET /ca/root.pem``) with
    ``resolution.protocol.servicemap.map_verify``; ``rs map sync`` keeps a copy, so that
    lookups go straight to the service that serves a number. Signed as it is asked for."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [CaReadRateThrottle]
    # Asked for as application/jose (what peers and rs send), or anything.
    renderer_classes = [JoseRenderer, JSONRenderer]

    @extend_schema(
        operation_id="federation_map",
        auth=[],
        responses={
            (200, JOSE): OpenApiTypes.STR,
            404: problem(
                MapNotFound,
                note="The service serves every number (no RS_SERVED_RANGES), or has not "
                "signed its advertisement yet.",
            ),
        },
    )
    # About 150 KB gzipped for 100 services and 10,000 ranges, 1.1 MB not (bench/RESULTS.md).
    # Public, and echoing nothing of the request: nothing for a compression oracle to find.
    @method_decorator(gzip_page)
    def get(self, request: Request) -> HttpResponse:
        token = service_map_sign()
        if token is None:
            raise MapNotFound(
                "This service serves every number or has not signed its advertisement yet: "
                "it has no map."
            )
        response = HttpResponse(token, content_type=JOSE)
        response["Cache-Control"] = MAP_CACHE
        return response
