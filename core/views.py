"""Service-level endpoints: health and the documentation of problem types."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.guides import problem_causes
from core.health import broker_health, database_health, keys_health
from core.outages import retry_after
from core.problems import (
    DependencyUnavailable,
    ServiceUnavailable,
    problem_catalogue,
    problem_type,
)
from core.schema import HealthSerializer, problem


class HealthApi(APIView):
    """Readiness: 200 when the database answers and the keys open, else 503.

    A broker that is down (when one is configured) does not make the instance unready: writes
    are still acknowledged, their SMS waiting in the outbox, and lookups and log reads do not
    need it. The answer is then 200 with ``status: degraded`` and the broker's check, and the
    outage is logged once (core.outages), so that monitoring sees it without a load balancer
    taking every instance out of rotation. So is a log whose sequencer is behind (an
    integrator that does not run): no instance can help it.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []
    # What the instance cannot serve without.
    REQUIRED = frozenset({"database", "keys"})

    @extend_schema(
        operation_id="health",
        responses={
            200: HealthSerializer,
            503: problem(
                ServiceUnavailable,
                note="Or the keys do not open; `checks` says which.",
            ),
        },
    )
    def get(self, request: Request) -> Response:
        database, log = database_health()
        checks = {"database": database, "keys": keys_health()}
        if log is not None:
            checks["log"] = log
        if (broker := broker_health()) is not None:
            checks["broker"] = broker
        down = sorted(name for name, check in checks.items() if check["status"] != "ok")
        if self.REQUIRED.intersection(down):
            # Logged once per outage by the checks (core.outages), not once per probe.
            raise DependencyUnavailable(
                f"Unavailable: {', '.join(down)}.", checks=checks, retry_after=retry_after()
            )
        status = "degraded" if down else "ok"
        return Response(HealthSerializer({"status": status, **checks}).data)


def problem_page(request: HttpRequest, slug: str) -> HttpResponse:
    """What a problem ``type`` URI points to: a page for people, with the problem's causes and
    fixes (docs/problems.md), and JSON for programs."""
    catalogue = problem_catalogue()
    if slug not in catalogue:
        raise Http404
    status, title = catalogue[slug]
    context = {"type": problem_type(slug), "status": status, "title": title}
    if "text/html" in request.headers.get("Accept", ""):
        return render(request, "problems/detail.html", context | {"causes": problem_causes(slug)})
    return JsonResponse(context)
