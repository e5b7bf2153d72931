"""The ``rs`` console command installed by ``pip install .``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from resolution import __version__


def _rs() -> list[str]:
    installed = shutil.which("rs", path=str(Path(sys.executable).parent))
    return [installed] if installed else [sys.executable, "-m", "resolution.cli"]


def test_version():
    result = subprocess.run([*_rs(), "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"rs {__version__}"


def test_help_describes_the_tool():
    result = subprocess.run([*_rs(), "--help"], capture_output=True, text=True, check=True)
    assert "usage: rs" in result.stdout
    assert "transparency log" in result.stdout
