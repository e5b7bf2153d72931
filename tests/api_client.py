"""The one test client, and commits as a test sees them.

Tests run inside a transaction that is rolled back at their end (pytest-django's ``db``), so
nothing they do commits and ``transaction.on_commit`` callbacks (an SMS to send, an enqueued
task, the log's integration after an append) would never run. :func:`committed` runs the
callbacks queued inside it when it ends, as a commit would (with those they queue in turn),
and then forgets them, as a commit does. Every request made through :class:`ApiClient` is
``committed``: it behaves as the request of a running service, which commits before it answers
the next one. Tests that commit for real (``transaction=True``) run their callbacks at each
commit, and there :func:`committed` finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.test import TestCase
from rest_framework.test import APIClient

from tests.openapi import response_checked


@contextmanager
def committed(using: str = DEFAULT_DB_ALIAS) -> Iterator[list[Callable[[], Any]]]:
    """Run the on-commit callbacks queued inside the block when it ends; the list of them.

    pytest-django's ``django_capture_on_commit_callbacks(execute=True)`` (Django's
    ``TestCase.captureOnCommitCallbacks``) runs them but leaves them queued: a later
    ``log_append`` would see its integration already queued and queue none.
    """
    start = len(connections[using].run_on_commit)
    try:
        with TestCase.captureOnCommitCallbacks(using=using, execute=True) as callbacks:
            yield callbacks
    finally:
        del connections[using].run_on_commit[start:]


class ApiClient(APIClient):
    """DRF's test client, whose every request commits (:func:`committed`).

    Every test request goes through :meth:`request`: the API's, the pages', the admin's.
    """

    def request(self, **kwargs: Any) -> Any:
        with committed():
            return response_checked(super().request(**kwargs))
