"""An SMS backend that prints each message to a stream: development only, it shows the code.

Like Django's console email backend, it lets a developer read the code a challenge sent
without a provider account.
"""

from __future__ import annotations

import sys
import threading
import uuid
from typing import TextIO

import structlog

from ca.sms import SmsBackend, SmsMessage, number_masked

logger = structlog.get_logger(__name__)

SEPARATOR = "-" * 79


class ConsoleBackend(SmsBackend):
    """Writes the recipient and the body to ``stream`` (standard output by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        # Messages sent from several threads come out whole, not interleaved.
        self._lock = threading.Lock()

    def send(self, message: SmsMessage) -> str:
        """Print ``message``; return a new ``console-<hex>`` id."""
        message_id = f"console-{uuid.uuid4().hex}"
        # Standard output is looked up at each send so that a replaced sys.stdout is honoured.
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(
                f"To: {message.to}\nReference: {message.reference}\nId: {message_id}\n\n"
                f"{message.body}\n{SEPARATOR}\n"
            )
            stream.flush()
        logger.info(
            "sms printed",
            message_sid=message_id,
            reference=message.reference,
            to=number_masked(message.to),
        )
        return message_id
