"""The outbox's one table: a row per message, written in the transaction of its change."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now

from outbox.choices import MessageState


class Message(models.Model):
    """One message to send, and where its sending stands.

    A dispatcher claims a due row by pushing ``next_attempt_at`` to the end of a lease
    (``locked_until``): until then no other dispatcher takes it, and when a dispatcher dies
    mid-send the row simply falls due again.
    """

    kind = models.CharField(max_length=64, help_text="Which sender sends it (outbox.senders)")
    reference = models.CharField(
        max_length=64, help_text="What it is about, e.g. the challenge's id"
    )
    # What the sender needs; secrets in it are sealed (a challenge's code: ca.codes), and the
    # admin never shows it.
    payload = models.JSONField(default=dict, editable=False)
    state = models.CharField(
        max_length=8, choices=MessageState.choices, default=MessageState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Claims by a dispatcher")
    next_attempt_at = models.DateTimeField(help_text="Due from then (pending messages)")
    locked_until = models.DateTimeField(
        null=True, blank=True, help_text="The lease of the dispatcher sending it"
    )
    deadline = models.DateTimeField(
        null=True, blank=True, help_text="Not sent after this (a challenge's expiry)"
    )
    last_error = models.CharField(max_length=200, blank=True)
    receipt = models.CharField(max_length=64, blank=True, help_text="The provider's id for it")
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now())
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # What a dispatcher reads: the pending messages, earliest due first.
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_message_due",
                condition=models.Q(state=MessageState.PENDING),
            ),
            models.Index(fields=["kind", "reference"], name="outbox_message_reference"),
            models.Index(fields=["state", "created_at"], name="outbox_message_state_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=MessageState.values), name="outbox_message_state"
            ),
            models.CheckConstraint(
                condition=~models.Q(state=MessageState.SENT) | models.Q(sent_at__isnull=False),
                name="outbox_message_sent_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference}"
