"""Federation's tables (DESIGN §7.4).

- ``Advertisement``: each range advertisement this service signed, with the log entry that
  records it (an ``advertisement`` entry, appended in the same transaction). The newest is
  the one served at ``/.well-known/rs-advertisement``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Length, Now
from django.db.models.lookups import Exact


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
