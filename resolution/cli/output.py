"""What ``rs`` prints: results on standard output (text, or JSON for scripts), notices,
failures and progress bars on standard error.

Public API: ``show``, ``show_json``, ``Emit``, ``info``, ``failure``, ``one_line``,
``progress``, ``ProgressBar``, ``entry_text``, ``promise_text``, ``log_json``, ``waiting``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO, TypeAlias

if TYPE_CHECKING:
    from resolution.client.api import AppendedLog
    from resolution.protocol.promise import Promise


def show(text: str) -> None:
    """Print a command's result."""
    print(text)


def show_json(document: object, *, indent: int | None = 2) -> None:
    """Print a command's result as JSON (dates and other values as their ``str``)."""
    print(json.dumps(document, indent=indent, default=str))


Emit: TypeAlias = Callable[[dict[str, Any]], None]
"""Where a step shared by commands sends its result as JSON, rather than print it as text:
``show_json`` for a command's one document, or a list a command gathers them in."""


def info(message: str) -> None:
    """Print a notice for people, apart from the result."""
    print(message, file=sys.stderr, flush=True)


def one_line(text: object) -> str:
    """``text`` with its runs of white space, new lines among them, made single spaces."""
    return " ".join(str(text).split())


def failure(command: str, error: object) -> None:
    """Report why ``rs <command>`` failed: ``rs <command>: <what failed>``, one line."""
    print(f"rs {command}: {one_line(error)}", file=sys.stderr)


class ProgressBar:
    """``progress(done, total)`` drawn as one line on a terminal: ``[#####.....] 12/40``."""

    WIDTH = 30

    def __init__(self, what: str, stream: TextIO) -> None:
        self.what, self.stream, self.drawn = what, stream, False

    def __call__(self, done: int, total: int) -> None:
        filled = self.WIDTH * done // total if total else self.WIDTH
        bar = "#" * filled + "." * (self.WIDTH - filled)
        percent = 100 * done // total if total else 100
        line = f"\r  {self.what} [{bar}] {percent:3d}% {done}/{total}"
        print(line, end="", file=self.stream, flush=True)
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            print(file=self.stream, flush=True)
            self.drawn = False


@contextmanager
def progress(what: str) -> Iterator[ProgressBar | None]:
    """A progress bar of ``what`` on standard error if it is a terminal (else ``None``),
    ended with its line when the block exits."""
    bar = ProgressBar(what, sys.stderr) if sys.stderr.isatty() else None
    try:
        yield bar
    finally:
        if bar is not None:
            bar.close()


def entry_text(index: int | None) -> str:
    """``log entry N``, or for an entry the log has not sequenced yet (within its merge
    delay) ``log entry not yet sequenced``."""
    return f"log entry {index}" if index is not None else "log entry not yet sequenced"


def promise_text(promise: Promise | None, leaf_hash: bytes) -> str:
    """A write's entry as people read it: its leaf hash and the deadline the log promised."""
    if promise is None:
        return f"log entry {leaf_hash.hex()[:16]}…"
    deadline = datetime.fromtimestamp(promise.deadline_ms / 1000, UTC)
    return f"log entry {leaf_hash.hex()[:16]}…, promised by {deadline:%H:%M:%S %Z}"


def log_json(leaf_hash: bytes, promise: Promise | None) -> dict[str, Any]:
    """A write's entry in ``--json`` output: its leaf hash (hex) and the promised deadline."""
    deadline = None
    if promise is not None:
        deadline = datetime.fromtimestamp(promise.deadline_ms / 1000, UTC).isoformat()
    return {"leaf_hash": leaf_hash.hex(), "promised_by": deadline}


def written_text(log: AppendedLog | None, promise: Promise | None, index: int | None) -> str:
    """A write's entry: by its leaf hash and promised deadline, or by ``index`` from a
    service that answers no ``log`` (one that predates promises)."""
    return entry_text(index) if log is None else promise_text(promise, log.leaf_hash)


def written_json(log: AppendedLog | None, promise: Promise | None) -> dict[str, Any] | None:
    """A write's entry in ``--json`` output (``log_json``); None without one."""
    return None if log is None else log_json(log.leaf_hash, promise)


def waiting(what: str) -> Callable[[float], None]:
    """A ``progress(seconds)`` callback for a bounded wait: on a terminal, ``what… 3 s`` on
    one line redrawn; otherwise one notice, the first time."""
    said = False

    def tell(seconds: float) -> None:
        nonlocal said
        if sys.stderr.isatty():
            print(f"\r  {what}… {seconds:.0f} s", end="", file=sys.stderr, flush=True)
        elif not said:
            info(f"{what}…")
        said = True

    return tell
