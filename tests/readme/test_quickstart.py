"""The README's quickstart, run literally, twice in a row, against ``manage.py serve``.

The commands are read from the README's "Quickstart" section and run one by one, as a reader
pastes them into a shell in the checkout: the same working folder, ``.venv/bin/rs``, a home
folder of its own (``~/.config/rs``), and the service on the embedded default. Only what the
reader types is filled in: each code the console printed, at the prompt of ``rs register`` or
``rs dispute``; the ``ID`` and ``SERIAL`` the previous command showed; and the operator's step in
the admin, done with the same service the admin's button calls. Each command must exit as its
comment says (0 unless it names another exit), on the first run and on the second.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.core.test_serve import ROOT, _embedded_env, _free_port, _stop, _wait_healthy

pytestmark = pytest.mark.quickstart

README = ROOT / "README.md"
PROMPT = re.compile(r"code from the SMS sent to (\+\d+): $")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SERIAL = re.compile(r"\b[0-9a-f]{32}\b")
EXIT = re.compile(r"\(?exit (\d)\)?")
COMMAND_SECONDS = 60


def quickstart_commands() -> list[tuple[str, str]]:
    """Each command of the README's quickstart with the comment that follows it (on its line,
    or on comment lines of its own under it), in order."""
    text = README.read_text()
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands: list[tuple[str, str]] = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            command, _, comment = line.partition("#")
            if command.strip():
                commands.append((command.strip(), comment.strip()))
            elif comment and commands and line.startswith(" "):
                # A comment under a command, indented to its column, goes on with it.
                last, said = commands[-1]
                commands[-1] = (last, f"{said} {comment.strip()}")
            elif comment.startswith(" The operator:"):
                commands.append(("# operator", comment.strip()))
    return commands


@dataclass
class Console:
    """The service's output, read as it comes: the SMS codes it printed, by number."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def code_for(self, number: str, after: int) -> str:
        """The code of the first SMS to ``number`` printed after line ``after``."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            to = None
            for line in self.lines[after:]:
                if line.startswith("To: "):
                    to = line[4:].strip()
                match = re.search(r"#(\d{6,10})$", line.strip())
                if match and to == number:
                    return match.group(1)
            time.sleep(0.1)
        raise AssertionError(f"no SMS to {number} on the console")


def typed(command: str, env: dict[str, str], console: Console) -> tuple[int, str]:
    """Run ``command`` in bash on a terminal, typing each SMS code it asks for; its exit
    status and what it printed."""
    mark = len(console.lines)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the reader's shell
        os.chdir(ROOT)
        os.execvpe("bash", ["bash", "-c", command], env)  # noqa: S606  # the reader's shell
    output = ""
    answered = 0
    deadline = time.monotonic() + COMMAND_SECONDS
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096).decode(errors="replace")
            except OSError:  # the terminal closed: the command ended
                break
            if not chunk:
                break
            output += chunk
            prompts = PROMPT.findall(output.replace("\r", ""))
            if len(prompts) > answered:
                code = console.code_for(prompts[-1], mark)
                os.write(fd, f"{code}\n".encode())
                answered += 1
                mark = len(console.lines)
    else:
        os.kill(pid, 9)
        raise AssertionError(f"{command!r} did not end in {COMMAND_SECONDS} s:\n{output}")
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.replace("\r", "")


def exported(line: str, env: dict[str, str]) -> dict[str, str]:
    """The shell variable an ``export NAME=…`` or ``NAME=$(…)`` line sets, added to ``env``."""
    name = re.match(r"(?:export )?(\w+)=", line)
    assert name is not None, line
    done = subprocess.run(
        ["bash", "-c", f'{line}\nprintf %s "${name.group(1)}"'],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=COMMAND_SECONDS,
    )
    return env | {name.group(1): done.stdout}


def operator_revokes_the_disputed_certificate(env: dict[str, str]) -> None:
    """The admin's "Revoke the disputed certificate…" on the open dispute."""
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from ca.choices import DisputeStatus, RevocationReason\n"
            "from ca.models import Dispute\n"
            "from ca.services.revocation import certificate_revoke\n"
            "dispute = Dispute.objects.get(status=DisputeStatus.OPEN)\n"
            "certificate_revoke(certificate=dispute.disputed, actor='admin:operator',\n"
            "    reason=RevocationReason.KEY_COMPROMISE, note='SIM swap, checked')\n",
        ],
        cwd=ROOT,
        # The log's origin is the served address's, as `serve` derived it for itself.
        env=env | {"RS_PUBLIC_URL": env["RS_URL"]},
        check=True,
        capture_output=True,
        text=True,
    )


def foreign_serial(monitored: str) -> str:
    """The serial of the certificate `rs monitor` flagged as not made here."""
    flagged = [line for line in monitored.splitlines() if "not" in line and SERIAL.search(line)]
    assert flagged, monitored
    return str(SERIAL.findall(flagged[0])[0])


def run_quickstart(env: dict[str, str], console: Console) -> None:
    shown: dict[str, str] = {}  # what each rs command last printed, by command name
    for readme_command, comment in quickstart_commands():
        # The service listens where the test started it (the README's port may be taken).
        command = readme_command.replace("http://127.0.0.1:8000", env["RS_URL"])
        if command == "# operator":
            operator_revokes_the_disputed_certificate(env)
            continue
        if re.match(r"(?:export )?\w+=\S", command) and " .venv/bin/rs " not in f" {command}":
            env = exported(command, env)
            continue
        if re.match(r"\w+=\$\(", command):
            env = exported(command, env)
            continue
        line = command
        if " ID" in line:  # the request's id, as `rs requests` showed it
            line = line.replace(" ID", " " + UUID.findall(shown["requests"])[0])
        if " SERIAL" in line:  # the foreign certificate's serial, as `rs monitor` showed it
            line = line.replace(" SERIAL", " " + foreign_serial(shown["monitor"]))
        expected = EXIT.search(comment)
        status, last = typed(line, env, console)
        shown[line.split(".venv/bin/rs ", 1)[-1].split()[0]] = last
        want = int(expected.group(1)) if expected and comment.startswith(("exit", "(exit")) else 0
        if "held back (exit" in comment:
            want = int(EXIT.search(comment).group(1))  # type: ignore[union-attr]
        assert status == want, f"{line!r} exited {status}, not {want}:\n{last}"


def test_the_readme_quickstart_works_twice_in_a_row(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    home = tmp_path / "home"
    home.mkdir()
    env = _embedded_env(tmp_path / "data") | {"HOME": str(home), "TERM": "dumb"}
    env.pop("RS_CONFIG_DIR", None)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    console = Console(server)
    mallory = Path("/tmp/mallory")  # noqa: S108  # the README's own path for the intruder
    shutil.rmtree(mallory, ignore_errors=True)
    try:
        _wait_healthy(base, server)
        reader = env | {"RS_URL": base}
        run_quickstart(reader, console)
        run_quickstart(reader, console)
    finally:
        shutil.rmtree(mallory, ignore_errors=True)
        output = _stop(server)
    assert "Traceback" not in output, output
