"""Federation's tables (DESIGN §7.4).

- ``Peer``: another resolution service, configured in the admin (URL, trusted root, allowed
  blocks), with how its last fetch went; ``PeerAdvertisement``: the newest advertisement
  accepted from it.

- ``Advertisement``: each range advertisement this service signed, with the log entry that
  records it (an ``advertisement`` entry, appended in the same transaction). The newest is
  the one served at ``/.well-known/rs-advertisement``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length, Now
from django.db.models.lookups import Exact

from federation.peers import base_url_check, ranges_parse, root_parse


class Advertisement(models.Model):
    """A range advertisement this service signed: its compact JWS and what it says."""

    token = models.TextField(editable=False, help_text="The compact JWS (ES256, x5c)")
    token_sha256 = models.BinaryField(max_length=32, editable=False, unique=True)
    issued_at = models.DateTimeField(editable=False, help_text="Its iat")
    ranges = models.TextField(
        editable=False, help_text="The blocks it names, ascending, separated by a space"
    )
    url = models.CharField(max_length=2048, editable=False, help_text="The URL it gives them")
    certificate_serial = models.CharField(
        max_length=40, editable=False, help_text="The range certificate's serial (hex)"
    )
    entry = models.OneToOneField(
        "transparency.Entry",
        on_delete=models.PROTECT,
        editable=False,
        related_name="advertisement",
        help_text="The log entry that records it",
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        ordering = ["-issued_at", "-id"]
        get_latest_by = ["issued_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Exact(Length("token_sha256"), 32),
                name="federation_advertisement_sha256_32",
            ),
            models.CheckConstraint(condition=~Q(ranges=""), name="federation_advertisement_ranges"),
        ]

    def __str__(self) -> str:
        return f"advertisement of {self.issued_at:%Y-%m-%d %H:%M:%S}Z"


def _ranges_validate(value: str) -> None:
    try:
        ranges_parse(value)
    except ValueError as error:
        raise ValidationError(str(error)) from None


def _root_validate(value: str) -> None:
    try:
        root_parse(value)
    except ValueError as error:
        raise ValidationError(str(error)) from None


def _url_validate(value: str) -> None:
    try:
        base_url_check(value)
    except ValueError as error:
        raise ValidationError(str(error)) from None


class Peer(models.Model):
    """Another resolution service, configured by an operator: where it is, the root trusted for
    its advertisements, and the blocks it may claim (an advertisement claiming outside them is
    refused). ``last_fetch_at`` and ``last_error`` say how its last fetch went."""

    name = models.CharField(max_length=100, unique=True, help_text="The operator's name for it")
    url = models.CharField(
        max_length=2048,
        unique=True,
        validators=[_url_validate],
        help_text="Its HTTPS base URL, e.g. https://rs.example.fr",
    )
    root_pem = models.TextField(
        "root certificate (PEM)",
        validators=[_root_validate],
        help_text="The root certificate trusted for its advertisements (its range certificate "
        "must chain to it)",
    )
    allowed_ranges = models.TextField(
        validators=[_ranges_validate],
        help_text="The blocks it may claim, comma-separated as RS_SERVED_RANGES spells them",
    )
    active = models.BooleanField(default=True, help_text="Fetch and trust its advertisement")
    last_fetch_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PeerAdvertisement(models.Model):
    """The newest advertisement accepted from a peer: verified, within its allowed blocks,
    naming its own URL only."""

    peer = models.OneToOneField(
        Peer, primary_key=True, on_delete=models.CASCADE, related_name="advertisement"
    )
    token = models.TextField(editable=False, help_text="The compact JWS, as fetched")
    issued_at = models.DateTimeField(editable=False, help_text="Its iat")
    ranges = models.TextField(
        editable=False, help_text="The blocks it names, ascending, separated by a space"
    )
    fetched_at = models.DateTimeField(editable=False, help_text="When it was last fetched")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(ranges=""), name="federation_peeradvertisement_ranges"
            ),
        ]

    def __str__(self) -> str:
        return f"advertisement of {self.peer}"
