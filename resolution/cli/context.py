"""What a service command works with: the store, and the service, connected on first use and
trusted through the keys pinned in the store (``resolution.client.verify.PinnedService``).

Public API: ``Context``.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field

from resolution.cli.arguments import witness_policy
from resolution.cli.exits import UsageError
from resolution.cli.output import info
from resolution.client.api import AppendedLog, Client
from resolution.client.federation import Services
from resolution.client.store import Credentials, Store, config_dir
from resolution.client.verify import PinnedService
from resolution.protocol.policy import Policy
from resolution.protocol.promise import Promise


@dataclass
class Context:
    """The config folder's store, the service's URL and API key, the HTTP timeout, and the
    witness policy given for this run (``None``: the one pinned for the service)."""

    store: Store
    given_url: str | None
    api_key: str | None
    timeout: float
    policy: Policy | None = None
    api_key_given: bool = False  # by RS_API_KEY or --api-key, not kept in the store
    _client: Client | None = field(default=None, init=False)
    _pinned: PinnedService | None = field(default=None, init=False)
    _services: Services | None = field(default=None, init=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Context:
        """The context of the service options (``arguments.service_options``), which the
        environment fills in: ``RS_URL``, ``RS_API_KEY``, ``RS_CONFIG_DIR``,
        ``RS_WITNESS_POLICY``; without an API key, the one kept for the service (``rs
        login``)."""
        context = cls(
            store=Store(args.config_dir or config_dir()),
            given_url=args.url or os.environ.get("RS_URL") or None,
            api_key=args.api_key or os.environ.get("RS_API_KEY") or None,
            timeout=args.timeout,
            policy=witness_policy(args.witness_policy or os.environ.get("RS_WITNESS_POLICY")),
        )
        context.api_key_given = context.api_key is not None
        if context.api_key is None and (context.given_url or "").startswith(("http:", "https:")):
            context.api_key = context.store.api_key(context.url)
        return context

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The service's base URL, without a trailing "/"."""
        if not self.given_url:
            raise UsageError("no service URL: set RS_URL or pass --url")
        if not self.given_url.startswith(("http://", "https://")):
            raise UsageError(f"{self.given_url!r} is not an http(s) URL")
        return self.given_url.rstrip("/")

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.url, self.api_key, timeout=self.timeout)
        return self._client

    @property
    def pinned(self) -> PinnedService:
        """The service, checked against the keys pinned for it (pinned on first use)."""
        if self._pinned is None:
            self._pinned = PinnedService(self.client, self.store, notify=info, policy=self.policy)
        return self._pinned

    def promise_hold(self, log: AppendedLog | None) -> Promise | None:
        """Check and keep a write's promise (``PinnedService.promise_hold``) when it has one."""
        return None if log is None else self.pinned.promise_hold(log)

    @property
    def services(self) -> Services:
        """The service and those it refers lookups to, each with the API key kept for it."""
        if self._services is None:

            def connect(url: str, api_key: str) -> Client:
                return Client(url, api_key, timeout=self.timeout)

            self._services = Services(self.pinned, self.store, connect=connect, notify=info)
        return self._services

    def close(self) -> None:
        if self._services is not None:
            self._services.close()
        if self._client is not None:
            self._client.close()

    def needs_api_key(self) -> None:
        """Calls to the API need the service's URL (checked first), then an API key."""
        if self.url and not self.api_key:
            raise UsageError("no API key: set RS_API_KEY or pass --api-key")

    def credentials(self, number: str) -> Credentials:
        """The number's stored key and certificate, which must not be revoked."""
        credentials = self.store.credentials(number)
        if credentials.revoked:
            raise UsageError(
                f"the certificate {credentials.serial} of {number} is revoked: "
                f"run 'rs register {number}' for a new one"
            )
        return credentials
