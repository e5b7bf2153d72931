"""The SMS code of a challenge, as ``rs register`` and ``rs dispute`` take it: asked for on a
terminal (again after a wrong code, while attempts are left, and after one the service
refused to read, with the problem's ``errors`` shown), or given to a second run with ``--code``.

Public API: ``interactive``, ``challenge_answer``, ``challenge_answer_asked``,
``challenge_started``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from resolution.cli.context import Context
from resolution.cli.exits import UsageError
from resolution.cli.output import Emit, info, show
from resolution.client.api import Challenge
from resolution.client.errors import ApiError

CODE_COMMAND_SECONDS = 300
"""How long a ``--code-command`` may take to print the code (it may wait for the SMS)."""

MALFORMED_CODES = 3
"""How many codes in a row the service may refuse to read (a validation problem: letters, too
few digits) before asking stops; they spend no attempt, so a code command that keeps printing
the wrong thing must still end."""


def interactive() -> bool:
    """Whether the code can be asked for: standard input is a terminal."""
    return sys.stdin is not None and sys.stdin.isatty()


def _ask_code(number: str, finish: str) -> str:
    print(f"code from the SMS sent to {number}: ", end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        raise UsageError(f"no code given: answer with '{finish}'")
    return line.strip()


def code_from_command(command: str) -> Callable[[str, str], str]:
    """A code source that runs ``command`` (a shell command line) with ``RS_NUMBER`` set to the
    number: the code is the first line it prints, e.g. read from an SMS gateway's inbox."""

    def ask(number: str, finish: str) -> str:
        try:
            # The user's own command line, run by a shell as cron would run it.
            done = subprocess.run(  # noqa: S602
                command,
                shell=True,
                env={**os.environ, "RS_NUMBER": number},
                capture_output=True,
                text=True,
                timeout=CODE_COMMAND_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise UsageError(
                f"the code command printed no code in {CODE_COMMAND_SECONDS} s"
            ) from None
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            raise UsageError(
                f"the code command failed (exit {done.returncode}) or printed nothing: "
                f"answer with '{finish}'"
            )
        return lines[0].strip()

    return ask


def challenge_answer(ctx: Context, challenge_id: str, code: str) -> None:
    """Answer the challenge; one already verified (an earlier run stopped later) is fine."""
    try:
        ctx.client.challenge_verify(challenge_id, code)
    except ApiError as exc:
        if exc.slug != "challenge-already-verified":
            raise


def challenge_answer_asked(
    ctx: Context,
    number: str,
    challenge_id: str,
    finish: str,
    ask: Callable[[str, str], str] = _ask_code,
) -> None:
    """Ask for the code (on the terminal, or from ``ask``) and answer the challenge with it,
    asking again after a wrong code while attempts are left; ``finish`` is the command that
    answers later."""
    malformed = 0
    while True:
        try:
            challenge_answer(ctx, challenge_id, ask(number, finish))
            return
        except ApiError as exc:
            left = exc.extensions.get("attempts_left")
            if exc.slug == "validation-error" and malformed + 1 < MALFORMED_CODES:
                malformed += 1
                _tell_errors("the service cannot read that code", exc)
                info("no attempt was spent; type the code again")
                continue
            if exc.slug != "challenge-code-wrong" or not left:
                raise
            malformed = 0
            _tell_errors(f"wrong code; {left} attempts left", exc)


def _tell_errors(what: str, problem: ApiError) -> None:
    """Say ``what``, then each member of the problem's ``errors``, on a line of its own."""
    info(what + (":" if problem.field_errors else ""))
    for error in problem.field_errors:
        info(f"  {error}")


def challenge_started(
    ctx: Context,
    number: str,
    *,
    keep: Callable[[Challenge], object],
    finish: str,
    why: str = "",
    ask: Callable[[str, str], str] | None = None,
    emit: Emit | None = None,
) -> str | None:
    """Start a challenge for ``number``, ``keep`` it (in the store, for a second run), then
    answer it with the code from ``ask`` or asked for on a terminal: its id, verified.  With
    neither, say how to finish (``finish``, with ``--code CODE``; to ``emit`` as JSON if
    given) and return None."""
    challenge = ctx.client.challenge_start(number)
    keep(challenge)
    expiry = f"{challenge.expires_at:%H:%M:%S %Z}"
    if ask is None and not interactive():
        if emit is not None:
            emit(
                {
                    "number": number,
                    "status": "code_sent",
                    "challenge": challenge.id,
                    "expires_at": challenge.expires_at.isoformat(),
                    "finish": finish,
                }
            )
        else:
            show(f"code sent by SMS to {number}, valid until {expiry}: finish with '{finish}'")
        return None
    info(f"code sent by SMS to {number}{why}; it is valid until {expiry}")
    challenge_answer_asked(ctx, number, challenge.id, finish, ask or _ask_code)
    return challenge.id
