"""Whether a number may be sent an invitation: asked when it is invited and again when its SMS
leaves (a STOP or a registration may come in between)."""

from __future__ import annotations

from datetime import datetime

from ca.models import Certificate
from directory.models import Handler
from invitations.digests import number_digests
from invitations.models import DoNotInvite


def number_invitable(e164: str, *, now: datetime) -> bool:
    """Whether ``e164`` may be sent an invitation: not on the do-not-invite list, holding no
    valid certificate of ours, and no handler (one authorised by another CA's certificate).
    Why not is never told apart: callers answer the same for every reason."""
    if DoNotInvite.objects.filter(number_hmac__in=number_digests(e164)).exists():
        return False
    if Certificate.objects.filter(
        number=e164, revoked_at__isnull=True, not_before__lte=now, not_after__gt=now
    ).exists():
        return False
    return not Handler.objects.filter(number=e164, expires_at__gt=now).exists()
