"""The client distribution (pyproject.toml): built as a wheel, installed into a fresh venv,
it gives the SDK and ``rs`` without Django or any server code.

The build and the install fetch setuptools and the client's dependencies from the package index
(pinned as in requirements.txt), so the test is marked ``packaging`` and runs in .ci/run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from resolution import __version__

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

# Imports every module of the package (but ``python -m`` entry points, which would run): an
# import the distribution's dependencies lack fails here.
IMPORT_ALL = """
import importlib, pkgutil, resolution
for module in pkgutil.walk_packages(resolution.__path__, "resolution."):
    if not module.name.endswith(".__main__"):
        importlib.import_module(module.name)
import resolution.client
print("imported")
"""


def run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def checked(*command: str | Path, cwd: Path | None = None) -> str:
    done = run(*command, cwd=cwd)
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def project_copy(into: Path) -> Path:
    """The files the distribution is built from, copied apart: the build leaves its
    ``build/`` and ``*.egg-info`` there, not in the checkout others work in."""
    source = into / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(
        ROOT / "resolution",
        source / "resolution",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return source


def pins(into: Path) -> Path:
    """requirements.txt as a constraints file: the same versions as the server's venv
    (extras dropped: a constraint cannot name them)."""
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    kept = [re.sub(r"\[[^]]*\]", "", line) for line in lines if "==" in line]
    constraints = into / "constraints.txt"
    constraints.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return constraints


def test_the_client_wheel_installs_rs_and_the_sdk_without_django(tmp_path):
    dist = tmp_path / "dist"
    checked(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, project_copy(tmp_path))
    (wheel,) = dist.glob("*.whl")
    assert wheel.name == f"resolution_client-{__version__}-py3-none-any.whl"

    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"resolution", f"resolution_client-{__version__}.dist-info"}
    assert "resolution/cli/main.py" in names
    assert "resolution/py.typed" in names  # the SDK's type hints, for its users' mypy

    venv = tmp_path / "venv"
    checked(sys.executable, "-m", "venv", venv)
    python, rs = venv / "bin" / "python", venv / "bin" / "rs"
    checked(python, "-m", "pip", "install", "--quiet", "-c", pins(tmp_path), wheel)

    assert checked(rs, "--version").strip() == f"rs {__version__}"
    # Shell completion, as the README says to enable it.
    assert "complete " in checked(venv / "bin" / "register-python-argcomplete", "rs")
    assert "lookup" in checked(rs, "--help")
    assert checked(python, "-c", IMPORT_ALL, cwd=tmp_path).strip() == "imported"
    no_django = run(python, "-c", "import django", cwd=tmp_path)
    assert no_django.returncode == 1 and "ModuleNotFoundError" in no_django.stderr

    # Exactly the declared dependencies, and what they need: no server package came along.
    installed = checked(python, "-m", "pip", "list", "--format=freeze").lower()
    for server_only in ("django", "djangorestframework", "celery", "psycopg", "phonenumbers"):
        assert f"\n{server_only}==" not in f"\n{installed}"
    for declared in PROJECT["dependencies"]:
        name = re.split(r"[<>=!~ \[]", declared, maxsplit=1)[0].lower()
        assert f"\n{name}==" in f"\n{installed}"
