"""Lookups across several resolution services (DESIGN §7.4, docs/federation.md).

Each service serves some ranges. ``Services.lookup`` asks the home service (the one the
caller configured), and when its answer says it does not serve the number (``served`` false)
and refers to one other service, follows that one referral: the referral's advertisement must
verify against the root pinned for the other service's URL, and the other service's answer
against *its* log keys and witness policy, pinned on first use like the home service's
(``resolution.client.verify.PinnedService``). It never follows a second referral, and never
chooses between two services that claim the same number (``ReferralConflictError``).

Where a peer's root comes from: the home service's map (``GET /v1/map``, signed under the
home service's pinned CA root), each service's root pinned on first use, by URL, in the same
``known_roots`` as CA roots (a peer's advertisement root is its CA root). A later map or
referral that shows another root for a pinned URL is refused (``PinMismatchError``).

``Services.map_sync`` keeps the home service's map in the store (``rs map sync``); while the
kept map is fresh, a lookup of a number it gives to another service goes there at once,
without the referral hop. A map gone stale is not used (and said so).

API keys are per service (``Store.api_key``, ``rs login``): the home service's key is never
sent to another service, which needs its own.

Public API: ``Services``, ``FoundLookup``, ``ReferralError``, ``ReferralConflictError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from resolution.client.api import Client
from resolution.client.errors import ClientError
from resolution.client.store import Store
from resolution.client.verify import PinnedService, VerificationError
from resolution.protocol.lookup import (
    REFERRAL_MAX_AGE,
    Referral,
    VerifiedLookup,
    referral_verify,
)
from resolution.protocol.servicemap import MAX_AGE, MapError, ServiceMap, map_verify


class ReferralError(ClientError):
    """A referral that cannot be followed: no API key for the other service, or no root
    trusted for it; the message says what to do."""


class ReferralConflictError(ReferralError):
    """Several services claim the number: none is chosen (``urls`` names them)."""

    def __init__(self, message: str, urls: tuple[str, ...]) -> None:
        super().__init__(message)
        self.urls = urls


@dataclass(frozen=True)
class FoundLookup:
    """A verified lookup, the service that answered it (``url``), the service whose referral
    led there (``referred_by``, None when asked directly), and whether the kept map sent the
    lookup straight there (``via_map``)."""

    lookup: VerifiedLookup
    url: str
    referred_by: str | None = None
    via_map: bool = False


Connect = Callable[[str, str], Client]
"""Make a client for a service: its base URL and the API key kept for it."""


class Services:
    """The home service and the services it refers to, with one store for all their pins."""

    def __init__(
        self,
        home: PinnedService,
        store: Store,
        *,
        connect: Connect,
        notify: Callable[[str], object] | None = None,
    ) -> None:
        self.home, self.store = home, store
        self._connect = connect
        self._notify = notify
        self._peers: dict[str, PinnedService] = {}
        self._map: ServiceMap | None = None  # the kept map, verified once per token
        # Referrals verified, by URL and advertisement: (verified at, the referral).
        self._referrals: dict[tuple[str, str], tuple[datetime, Referral]] = {}

    def _tell(self, message: str) -> None:
        if self._notify is not None:
            self._notify(message)

    def close(self) -> None:
        for peer in self._peers.values():
            peer.client.close()

    # --- the map --------------------------------------------------------------------------

    def _map_check(self, token: str) -> ServiceMap:
        try:
            found = map_verify(token, [self.home.ca_root()])
        except MapError as exc:
            raise VerificationError(f"the map of {self.home.url} does not verify: {exc}") from None
        if found.url != self.home.url:
            raise VerificationError(f"the map of {self.home.url} is signed for {found.url}")
        return found

    def map_sync(self) -> ServiceMap:
        """Fetch the home service's map, verify it under its pinned CA root, pin the root of
        each service it names (refusing one that changed: ``PinMismatchError``), and keep it."""
        found = self._map_check(self.home.client.service_map())
        for service in found.services:
            # The home service's own root was pinned by ca_root(): this raises if it differs.
            if self.store.pin_root(service.url, service.root) and service.url != self.home.url:
                self._tell(
                    f"pinned the root of {service.url} from the map of {self.home.url}: "
                    f"SHA-256 {_fingerprint(service.root)}"
                )
        self.store.service_map_save(self.home.url, found.token)
        return found

    def map_kept(self) -> ServiceMap | None:
        """The kept map of the home service, verified again; None when none is kept or it is
        no longer fresh (said through ``notify``)."""
        token = self.store.service_map(self.home.url)
        if token is None:
            return None
        verified = self._map
        if verified is not None and verified.token == token and _fresh(verified):
            return verified
        try:
            self._map = self._map_check(token)
        except VerificationError as exc:
            self._tell(f"not using the kept map ({exc}): run 'rs map sync'")
            return None
        return self._map

    # --- lookups --------------------------------------------------------------------------

    def peer(self, url: str) -> PinnedService:
        """Another service, checked against the keys pinned for it (pinned on first use)."""
        if url not in self._peers:
            api_key = self.store.api_key(url)
            if api_key is None:
                raise ReferralError(
                    f"no API key kept for {url}: run 'rs login' with RS_URL={url} and the "
                    f"API key its operator gave you"
                )
            self._peers[url] = PinnedService(
                self._connect(url, api_key), self.store, notify=self._notify
            )
        return self._peers[url]

    def root_for(self, url: str) -> x509.Certificate:
        """The root pinned for ``url``'s advertisements; learnt from the home service's map
        (fetched now) when none is pinned yet."""
        root = self.store.pinned_root(url)
        if root is None:
            self.map_sync()
            root = self.store.pinned_root(url)
        if root is None:
            raise ReferralError(f"the map of {self.home.url} does not name {url}")
        return root

    def lookup(
        self, number: str, service: str | None = None, *, at: datetime | None = None
    ) -> FoundLookup:
        """Look ``number`` up where it is served, and verify the answer there: through the
        kept map when it names another service, else at the home service, following its one
        referral. Raises ``LookupVerificationError``, ``ReferralError`` (a referral that cannot
        be followed, ``ReferralConflictError`` for two claims) or ``ClientError``."""
        kept = self.map_kept()
        if kept is not None:
            urls = sorted({serving.url for serving in kept.serving(number)})
            if len(urls) == 1 and urls[0] != self.home.url:
                found = self.peer(urls[0]).lookup(number, service)
                if found.served:
                    return FoundLookup(found, urls[0], via_map=True)
                # The map is behind the services: ask the home service.
        verified = self.home.lookup(number, service)
        if verified.served or not verified.referrals:
            return FoundLookup(verified, self.home.url)
        urls = sorted({referral.url for referral in verified.referrals})
        if len(urls) > 1:
            raise ReferralConflictError(
                f"{self.home.url} does not serve {number}, and {len(urls)} services claim it "
                f"({', '.join(urls)}): their operators must settle it",
                tuple(urls),
            )
        referral = self._referral_checked(verified.referrals[0], number, at or datetime.now(UTC))
        found = self.peer(referral.url).lookup(number, service)
        return FoundLookup(found, referral.url, referred_by=self.home.url)

    def _referral_checked(self, referral: Referral, number: str, at: datetime) -> Referral:
        """``referral_verify`` against the root pinned for its URL; an advertisement verified
        in the last ``REVERIFY`` is only checked again for the number and its age."""
        key = (referral.url, referral.token)
        kept = self._referrals.get(key)
        if kept is not None and at - kept[0] < REVERIFY:
            advertisement = kept[1].advertisement
            assert advertisement is not None  # kept verified
            fresh = at - advertisement.issued_at <= REFERRAL_MAX_AGE
            if fresh and advertisement.url_for(number) == referral.url:
                return kept[1]
        checked = referral_verify(referral, number, [self.root_for(referral.url)], at=at)
        self._referrals[key] = (at, checked)
        return checked


# A referral's advertisement, verified once (chain, signature, coverage), is verified again
# after this long: a certificate that expired or a pin that changed is then noticed.
REVERIFY: Final = timedelta(minutes=10)


def _fresh(found: ServiceMap) -> bool:
    """Whether the map, and every advertisement in it, is still within its age."""
    oldest = min([found.issued_at, *(s.advertisement.issued_at for s in found.services)])
    return datetime.now(UTC) - oldest <= MAX_AGE


def _fingerprint(root: x509.Certificate) -> str:
    return root.fingerprint(hashes.SHA256()).hex()
