"""Webhooks API views: the calling provider's endpoints, their secrets and delivery history.

A provider sees and changes only its own endpoints: another provider's id is 404, as an id
nobody has.
"""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.schema import problem
from providers.authentication import caller_provider
from providers.idempotency import idempotent
from providers.permissions import DirectoryScope
from webhooks.api.serializers import (
    DeliveryOutput,
    EndpointInput,
    EndpointOutput,
    EndpointWithSecretOutput,
)
from webhooks.models import Endpoint
from webhooks.problems import WebhookLimitReached, WebhookUrlRefused
from webhooks.selectors import delivery_list, endpoint_get, endpoint_list
from webhooks.services import endpoint_create, endpoint_delete, endpoint_secret_rotate

NOT_FOUND = problem("not-found", note="The calling provider has no webhook endpoint with this id.")


def _endpoint(request: Request, endpoint_id: uuid.UUID) -> Endpoint:
    endpoint = endpoint_get(provider=caller_provider(request), endpoint_id=endpoint_id)
    if endpoint is None:
        raise NotFound("The calling provider has no webhook endpoint with this id.")
    return endpoint


class EndpointsApi(APIView):
    """The calling provider's webhook endpoints: list them, or register one."""

    permission_classes = [DirectoryScope]

    @extend_schema(operation_id="webhooks_list", responses={200: EndpointOutput(many=True)})
    def get(self, request: Request) -> Response:
        endpoints = endpoint_list(provider=caller_provider(request))
        return Response(EndpointOutput(endpoints, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        request=EndpointInput,
        responses={
            201: EndpointWithSecretOutput,
            400: problem("validation-error", WebhookUrlRefused),
            409: problem(
                WebhookLimitReached, note="The provider has RS_WEBHOOK_MAX_PER_PROVIDER endpoints."
            ),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = EndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = endpoint_create(
            provider=caller_provider(request),
            url=data.validated_data["url"],
            description=data.validated_data["description"],
        )
        return Response(EndpointWithSecretOutput(created).data, status=201)


class EndpointApi(APIView):
    """One of the calling provider's webhook endpoints: read it, or delete it."""

    permission_classes = [DirectoryScope]

    @extend_schema(operation_id="webhooks_get", responses={200: EndpointOutput, 404: NOT_FOUND})
    def get(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        return Response(EndpointOutput(_endpoint(request, endpoint_id)).data)

    @extend_schema(
        operation_id="webhooks_delete", request=None, responses={204: None, 404: NOT_FOUND}
    )
    def delete(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        endpoint_delete(endpoint=_endpoint(request, endpoint_id))
        return Response(status=204)


class EndpointSecretApi(APIView):
    """Give an endpoint a new signing secret; the old one still signs for a day."""

    permission_classes = [DirectoryScope]

    @extend_schema(
        operation_id="webhooks_secret_rotate",
        request=None,
        responses={200: EndpointWithSecretOutput, 404: NOT_FOUND},
    )
    @idempotent
    def post(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        rotated = endpoint_secret_rotate(endpoint=_endpoint(request, endpoint_id))
        return Response(EndpointWithSecretOutput(rotated).data)


class EndpointDeliveriesApi(APIView):
    """An endpoint's most recent deliveries (at most 100), newest first."""

    permission_classes = [DirectoryScope]

    @extend_schema(
        operation_id="webhooks_deliveries",
        responses={200: DeliveryOutput(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        deliveries = delivery_list(endpoint=_endpoint(request, endpoint_id))
        return Response(DeliveryOutput(deliveries, many=True).data)
