"""Enumerations of the ``outbox`` app."""

from __future__ import annotations

from django.db import models


class MessageState(models.TextChoices):
    PENDING = "pending", "pending (to be sent, or being sent)"
    SENT = "sent", "sent"
    DEAD = "dead", "dead (given up: see the last error)"
