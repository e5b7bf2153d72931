"""The exit codes of ``rs``: what each means (``rs --help`` prints it), and which failure
exits with which.

A command returns its code; a failure it raises is reported on one line and exits with the
code of the first entry of ``FAILURES`` it is an instance of.

Public API: ``EXIT_OK``, ``EXIT_FAILED``, ``EXIT_USAGE``, ``EXIT_API``, ``EXIT_NETWORK``,
``EXIT_PENDING``, ``EXIT_QUORUM_MISSED``, ``EXIT_SPLIT_VIEW``, ``EXIT_INTERRUPTED``,
``MEANINGS``, ``FAILURES``, ``UsageError``, ``exit_code``, ``exit_codes_help``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from resolution.client.errors import ApiError, ClientError, NetworkError
from resolution.client.monitor import MonitorError
from resolution.client.store import PinMismatchError, StoreError
from resolution.client.trees import SplitViewError
from resolution.client.verify import VerificationError, WitnessQuorumError

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_API: Final = 3
EXIT_NETWORK: Final = 4
EXIT_PENDING: Final = 5
EXIT_QUORUM_MISSED: Final = 6
EXIT_SPLIT_VIEW: Final = 7
EXIT_INTERRUPTED: Final = 130  # 128 + SIGINT, as shells report it


class UsageError(Exception):
    """The command cannot run as given: exit 2 with this message."""


MEANINGS: Final[Mapping[int, tuple[str, ...]]] = MappingProxyType(
    {
        EXIT_OK: ("success",),
        EXIT_FAILED: (
            "verification failed: an answer, certificate, log entry or PASSporT did not verify,",
            "a pinned key changed, or `rs monitor` found a certificate for the number whose key",
            "is not yours, or a pending request for one",
        ),
        EXIT_USAGE: (
            "usage error: bad arguments, no URL or API key, no key stored for the number",
        ),
        EXIT_API: (
            "the service refused a request (an API error: its status and problem type are shown)",
        ),
        EXIT_NETWORK: (
            "network error: the service could not be reached, or did not answer in time",
        ),
        EXIT_PENDING: (
            "pending: the number is locked by another holder, and `rs register` asked for a",
            "certificate that waits for their answer; finish with `rs register NUMBER --resume`",
        ),
        EXIT_QUORUM_MISSED: (
            "the log's checkpoint misses the witness policy's quorum: too few of its witnesses",
            "cosigned it (the message names those missing); nothing it proves is trusted",
        ),
        EXIT_SPLIT_VIEW: (
            "split view: the log showed a tree that does not extend one it showed before (a",
            "smaller one, another root, or no consistency proof); both signed checkpoints are kept",
        ),
    }
)
"""What each exit code means, in the lines ``rs --help`` prints."""

# Subclasses before their bases: the first match wins.
FAILURES: Final[tuple[tuple[type[Exception], int], ...]] = (
    (PinMismatchError, EXIT_FAILED),
    (SplitViewError, EXIT_SPLIT_VIEW),
    (WitnessQuorumError, EXIT_QUORUM_MISSED),
    (VerificationError, EXIT_FAILED),
    (MonitorError, EXIT_FAILED),
    (UsageError, EXIT_USAGE),
    (StoreError, EXIT_USAGE),
    (NetworkError, EXIT_NETWORK),
    (ApiError, EXIT_API),
    (ClientError, EXIT_API),  # ResponseError: an answer the API does not document
)
"""The exit code of each failure a command may raise."""

REPORTED: Final = tuple(kind for kind, _ in FAILURES)
"""The failures reported as one line (``except REPORTED``); any other is a bug."""


def exit_code(failure: Exception) -> int:
    """The exit code of ``failure``, one of ``REPORTED``."""
    return next(code for kind, code in FAILURES if isinstance(failure, kind))


def exit_codes_help() -> str:
    """The "exit codes" section of ``rs --help``."""
    lines = ["exit codes:"]
    for code, meaning in MEANINGS.items():
        first, *more = meaning
        lines.append(f"  {code}  {first}")
        lines += [f"     {line}" for line in more]
    return "\n".join(lines) + "\n"
