"""The pages' throttle: the API's per-client GCRA (``core.throttling``) under its own scope,
``html`` (``RS_THROTTLE_HTML``), on plain Django views.

Pages cost more than their size: the explorer draws charts and the entry page computes an
inclusion proof, so without a rate one client could keep workers busy. Over the rate a page
answers 429 with ``Retry-After`` and a small HTML page of its own, or the API's
``rate-limited`` problem to a client that asks for JSON and not HTML.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.request import Request
from rest_framework.views import APIView

from core.problems import problem_response
from core.throttling import ClientIpRateThrottle


class HtmlRateThrottle(ClientIpRateThrottle):
    """Pages per client (an IPv6 /64 counted as one), as the API counts its clients."""

    scope = "html"


def too_many_requests(request: HttpRequest, what: str, retry_after: float | None) -> HttpResponse:
    """429, with ``Retry-After`` in whole seconds when it is known (RFC 9110 §10.2.3): a page,
    or a problem (RFC 9457) for a client that takes JSON and not HTML."""
    seconds = max(1, math.ceil(retry_after)) if retry_after else None
    if not request.accepts("text/html") and request.accepts("application/json"):
        return problem_response(
            slug="rate-limited",
            title="Too many requests",
            status=429,
            detail=what,
            headers={"Retry-After": str(seconds)} if seconds is not None else None,
            **({"retry_after": seconds} if seconds is not None else {}),
        )
    response = render(
        request,
        "web/too_many_requests.html",
        {"what": what, "retry_after": seconds},
        status=429,
    )
    if seconds is not None:
        response["Retry-After"] = str(seconds)
    return response


def throttled(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``view``, counted against its client's page rate; 429 once the client is over it."""

    @functools.wraps(view)
    def throttled_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        throttle = HtmlRateThrottle()
        # The throttle reads only the request's META and no view: a page is not an APIView.
        if throttle.allow_request(cast(Request, request), cast(APIView, None)):
            return view(request, *args, **kwargs)
        return too_many_requests(
            request, "This address has asked for too many pages.", throttle.wait()
        )

    return throttled_view
