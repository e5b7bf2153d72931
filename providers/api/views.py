"""Providers API views: who am I, and the calling provider's keys."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.schema import problem
from providers.api.serializers import (
    ApiKeyCreatedOutput,
    ApiKeyCreateInput,
    ApiKeyOutput,
    CallerOutput,
)
from providers.authentication import caller_key, caller_provider
from providers.idempotency import idempotent
from providers.permissions import AdminScope, LookupScope
from providers.problems import ApiKeyLimitReached, ApiKeyRateLimited, ScopeInsufficient
from providers.selectors import api_key_get, api_key_list
from providers.services import api_key_create, api_key_revoke


class CallerApi(APIView):
    """Who am I: the provider and key a request authenticates as (to test an integration)."""

    permission_classes = [LookupScope]

    @extend_schema(operation_id="caller", responses={200: CallerOutput})
    def get(self, request: Request) -> Response:
        provider = caller_provider(request)
        api_key = caller_key(request)
        output = {
            "provider": provider.slug,
            "name": provider.name,
            "key_prefix": api_key.prefix,
            "scope": api_key.scope,
        }
        return Response(CallerOutput(output).data)


class ApiKeysApi(APIView):
    """The calling provider's API keys: list them, or create one (to rotate keys). Admin keys
    only; a new key's scope is at most the calling key's."""

    permission_classes = [AdminScope]

    @extend_schema(operation_id="api_keys_list", responses={200: ApiKeyOutput(many=True)})
    def get(self, request: Request) -> Response:
        return Response(
            ApiKeyOutput(api_key_list(provider=caller_provider(request)), many=True).data
        )

    @extend_schema(
        operation_id="api_keys_create",
        request=ApiKeyCreateInput,
        responses={
            201: ApiKeyCreatedOutput,
            403: problem(ScopeInsufficient, note="A new key's scope is at most the calling key's."),
            409: problem(
                ApiKeyLimitReached, note="The provider has RS_API_KEY_MAX_PER_PROVIDER live keys."
            ),
            429: problem(
                ApiKeyRateLimited,
                note="`api-key-rate-limited`: RS_API_KEY_CREATE_RATE keys were created.",
            ),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = ApiKeyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        issued = api_key_create(
            provider=caller_provider(request),
            scope=data.validated_data["scope"],
            label=data.validated_data["label"],
            granted_by=caller_key(request),
        )
        return Response(ApiKeyCreatedOutput(issued).data, status=201)


class ApiKeyRevokeApi(APIView):
    """Revoke one of the calling provider's keys, named by its prefix (it may be this one).
    Admin keys only."""

    permission_classes = [AdminScope]

    @extend_schema(
        operation_id="api_keys_revoke",
        request=None,
        responses={200: ApiKeyOutput, 404: problem("not-found", note="No such key.")},
    )
    @idempotent
    def post(self, request: Request, prefix: str) -> Response:
        api_key = api_key_get(provider=caller_provider(request), prefix=prefix)
        if api_key is None:
            raise NotFound("The calling provider has no key with this prefix.")
        return Response(ApiKeyOutput(api_key_revoke(api_key=api_key)).data)
