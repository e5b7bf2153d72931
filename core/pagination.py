"""Lists of the API, a page at a time, by cursor (keyset pagination).

A list is ordered by a unique key (a tuple of columns, e.g. ``created_at`` then ``id``); a
page's ``next`` cursor is the key of its last row, and the next page is the rows after that key.
Rows added while a client pages through a list are therefore never shown twice, and no row that
was there when the client started is skipped (an offset would do both). The cursor is opaque to
clients: base64url of the key's values.

An answer is ``{"results": [...], "next": URL or null}``, with the same URL in a
``Link: <URL>; rel="next"`` header (RFC 8288) when there is a next page. ``?limit=`` sets the
page size (1 to ``MAX_LIMIT``, ``DEFAULT_LIMIT`` by default).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from django.db.models import Field, Model, Q, QuerySet
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.problems import Problem

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 200


class CursorInvalid(Problem):
    slug = "cursor-invalid"
    title = "The cursor is not one this list gave"
    status_code = 400


class PageQuery(serializers.Serializer[Any]):
    """The query parameters every list takes."""

    cursor = serializers.CharField(
        required=False, max_length=512, help_text="The `next` cursor of the previous page"
    )
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_LIMIT,
        default=DEFAULT_LIMIT,
        help_text=f"Rows per page (1 to {MAX_LIMIT})",
    )


@dataclass(frozen=True)
class Page:
    """A page's rows and the URL of the next page (None on the last)."""

    rows: list[Any]
    next: str | None


def _encode(values: Sequence[Any]) -> str:
    text = json.dumps([str(value) for value in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, model: type[Model], keys: Sequence[str]) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not (isinstance(values, list) and len(values) == len(keys)):
            raise ValueError(cursor)
        fields = [model._meta.get_field(key) for key in keys]
        return [
            field.to_python(value)
            for field, value in zip(fields, values, strict=True)
            if isinstance(field, Field)
        ]
    except (binascii.Error, ValueError, UnicodeDecodeError, TypeError) as error:
        raise CursorInvalid("Pass the `next` cursor of a page of this list as it was.") from error
    except Exception as error:  # a field's to_python: django.core.exceptions.ValidationError
        raise CursorInvalid("Pass the `next` cursor of a page of this list as it was.") from error


def _after(keys: Sequence[str], values: Sequence[Any], *, descending: bool) -> Q:
    """Rows strictly after ``values`` in the order of ``keys``: (a > x) or (a = x and b > y)…"""
    beyond = "lt" if descending else "gt"
    condition = Q()
    for depth in range(len(keys) - 1, -1, -1):
        step = Q(**{f"{keys[depth]}__{beyond}": values[depth]})
        equal = Q(**{key: value for key, value in zip(keys[:depth], values[:depth], strict=True)})
        condition = (equal & step) | condition if condition else equal & step
    return condition


def keyset_page(
    queryset: QuerySet[Any],
    request: Request,
    *,
    keys: Sequence[str],
    descending: bool = True,
) -> Page:
    """One page of ``queryset`` in the order of ``keys`` (unique together), after the request's
    ``cursor``, of its ``limit`` rows."""
    query = PageQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    limit: int = query.validated_data["limit"]
    ordered = queryset.order_by(*(f"-{key}" if descending else key for key in keys))
    if cursor := query.validated_data.get("cursor"):
        values = _decode(cursor, queryset.model, keys)
        ordered = ordered.filter(_after(keys, values, descending=descending))
    rows = list(ordered[: limit + 1])
    if len(rows) <= limit:
        return Page(rows=rows, next=None)
    rows = rows[:limit]
    last = rows[-1]
    params = request.query_params.copy()
    params["cursor"] = _encode([getattr(last, key) for key in keys])
    return Page(rows=rows, next=request.build_absolute_uri(f"{request.path}?{params.urlencode()}"))


def page_response(results: list[Any], page: Page) -> Response:
    """The answer of a page: its serialised ``results`` and ``next``, and the Link header."""
    headers = {"Link": f'<{page.next}>; rel="next"'} if page.next else {}
    return Response({"results": results, "next": page.next}, headers=headers)


def page_of(name: str, item: serializers.BaseSerializer[Any]) -> serializers.Serializer[Any]:
    """The OpenAPI shape of a page of ``item``s."""
    return inline_serializer(
        name=name,
        fields={
            "results": item,
            "next": serializers.URLField(
                allow_null=True, help_text="The next page (also in Link), or null on the last"
            ),
        },
    )
