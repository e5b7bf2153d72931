"""Signals the directory sends, so that apps above it react to its changes without it knowing
them.

``handler_published(handler, provider)`` is sent inside the transaction of a handler's
publication or replacement, after it is logged and saved: receivers act in that transaction
(invitations tells the inviters that may see the handler, DESIGN §7.5).
"""

from __future__ import annotations

from django.dispatch import Signal

handler_published = Signal()  # handler, provider
