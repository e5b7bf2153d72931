"""An SMS backend that keeps messages in memory, for tests (``config/settings/test.py``).

Sent messages are appended to :data:`outbox`. To make the next sends fail, put errors in
:data:`failures`: while it is not empty, each send removes the first one and raises it instead
of sending, e.g. ``failures.append(SmsTemporaryError("timeout"))``. Tests empty both lists
between runs.
"""

from __future__ import annotations

import itertools

import structlog

from ca.sms import SmsBackend, SmsError, SmsMessage, number_masked

logger = structlog.get_logger(__name__)

outbox: list[SmsMessage] = []
failures: list[SmsError] = []

# Ids stay unique in the process even when a test empties the outbox, as a provider's would.
_message_numbers = itertools.count(1)


class LocmemBackend(SmsBackend):
    """Appends each message to :data:`outbox`, or raises the first of :data:`failures`."""

    def send(self, message: SmsMessage) -> str:
        """Record ``message``; return ``locmem-<n>``, n counting the messages of this process."""
        if failures:
            raise failures.pop(0)
        outbox.append(message)
        message_id = f"locmem-{next(_message_numbers)}"
        logger.info(
            "sms kept in memory",
            message_sid=message_id,
            reference=message.reference,
            to=number_masked(message.to),
        )
        return message_id
