"""The parts ``rs`` is built from: the command registry, the exit-code map, the number
argument (the protocol's E.164 rule)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import cast

import httpx
import pytest

from resolution.cli import arguments
from resolution.cli.commands import COMMANDS
from resolution.cli.exits import MEANINGS, UsageError, exit_code
from resolution.cli.main import build_parser
from resolution.client import ApiError, NetworkError, ResponseError, VerificationError
from resolution.client.monitor import MonitorError
from resolution.client.store import PinMismatchError, StoreError
from resolution.client.trees import SplitViewError
from resolution.client.verify import WitnessQuorumError


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_module_adds_the_command_it_is_named_after():
    commands = _subcommands(build_parser())
    assert list(commands) == [cast(ModuleType, m).__name__.rsplit(".", 1)[1] for m in COMMANDS]
    groups = ("passport", "log", "witness", "webhook")  # commands of subcommands
    runnable = [commands[name] for name in commands if name not in groups]
    runnable += [leaf for name in groups for leaf in _subcommands(commands[name]).values()]
    # Those that need no service: the auditor, the witness, the webhook receiver.
    serviceless = {"rs log audit", "rs witness keygen", "rs witness serve", "rs webhook serve"}
    for parser in runnable:
        assert callable(parser.get_default("run")), parser.prog
        assert parser.get_default("needs_service") is (parser.prog not in serviceless)


def _runnable() -> list[argparse.ArgumentParser]:
    """Every command that runs: the commands, and the subcommands of the groups."""
    commands = _subcommands(build_parser())
    groups = ("passport", "log", "witness", "webhook")
    runnable = [commands[name] for name in commands if name not in groups]
    return runnable + [leaf for name in groups for leaf in _subcommands(commands[name]).values()]


@pytest.mark.parametrize("command", _runnable(), ids=lambda parser: parser.prog)
def test_every_command_has_json_and_examples_in_its_help(command: argparse.ArgumentParser):
    options = {option for action in command._actions for option in action.option_strings}
    # The webhook receiver prints each event as a JSON line already.
    assert ("--json" in options) is (command.prog != "rs webhook serve")
    help_text = command.format_help()
    examples = help_text.split("\nexamples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    invocations = [line.strip() for line in examples if not line.startswith("      ")]
    assert len(invocations) >= 2
    assert all(command.prog in invocation for invocation in invocations)
    assert "Exit codes and environment variables: see 'rs --help'." in help_text


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (PinMismatchError("keys changed"), 1),  # a StoreError, but a verification failure
        (VerificationError("bad"), 1),
        (MonitorError("forked"), 1),
        (StoreError("no key"), 2),
        (UsageError("no URL"), 2),
        (ApiError(method="GET", url="/", status=400, type="t/x", title="x", detail=""), 3),
        (ResponseError("odd"), 3),
        (NetworkError("GET", "http://x/", httpx.ConnectError("refused")), 4),
        (WitnessQuorumError("misses its quorum", ("a",)), 6),  # a VerificationError
        (SplitViewError("SPLIT VIEW"), 7),
    ],
)
def test_each_failure_has_its_documented_exit_code(failure: Exception, code: int):
    assert exit_code(failure) == code and code in MEANINGS


@pytest.mark.parametrize(
    ("given", "number"),
    [("+33612345678", "+33612345678"), ("+33 6 12-34-56-78", "+33612345678"), ("+12", "+12")],
)
def test_numbers_are_e164_with_spaces_and_dashes_dropped(given: str, number: str):
    assert arguments.number(given) == number


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("+0612345678", "no country code starts with 0"),
        ("0612345678", "is not an E.164 number"),
        ("+1234567890123456", "is not an E.164 number"),  # 16 digits
        ("+1", "is not an E.164 number"),
        ("+٣٣612345678", "is not an E.164 number"),  # digits, but not ASCII ones
    ],
)
def test_other_numbers_are_refused_saying_why(given: str, message: str):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        arguments.number(given)


def test_a_validation_problem_names_each_field_and_why():
    problem = ApiError(
        method="POST",
        url="http://rs.example/v1/challenges/x/verify",
        status=400,
        type="https://rs.example/problems/validation-error",
        title="Invalid request",
        detail="The request has invalid fields; see errors.",
        extensions={
            "errors": [
                {"pointer": "#/code", "detail": "Digits only.", "code": "invalid"},
                {"pointer": "#", "detail": "Too late.", "code": "invalid"},
                "not an error object",
            ]
        },
    )
    assert problem.field_errors == ("code: Digits only.", "request: Too late.")
    assert str(problem).endswith("see errors.: code: Digits only.; request: Too late.")


def _completions(line: str, tmp_path: Path) -> list[str]:
    """What ``rs`` offers a shell completing ``line`` (argcomplete's protocol, as
    ``register-python-argcomplete rs`` sets it up)."""
    answer = tmp_path / "completions"
    environment = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_SHELL": "bash",
        "_ARGCOMPLETE_IFS": "\n",
        "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "COMP_TYPE": "9",
    }
    done = subprocess.run(
        [sys.executable, "-m", "resolution.cli"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [word.strip() for word in answer.read_text().split("\n")]


def test_the_shell_completes_commands_and_options(tmp_path):
    assert sorted(_completions("rs re", tmp_path)) == [
        "refuse",
        "register",
        "remove",
        "renew",
        "requests",
        "revoke",
    ]
    assert "--state" in _completions("rs log audit --st", tmp_path)
    assert _completions("rs lookup +33612345678 --js", tmp_path) == ["--json"]
