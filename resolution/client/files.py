"""Writing the SDK's files: keys, certificates, pins, monitor and audit states.

Public API: ``atomic_write``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data``, atomically: a crash or an error leaves the old file or
    the new one, never part of either, and no temporary file.

    The data goes to a new file in the same folder (created with ``mode``, 0600 unless told,
    whatever the umask; never through a symbolic link), is flushed to the disk, then renamed
    over ``path`` (POSIX ``rename`` is atomic), and the folder is flushed too, so that the
    rename itself survives a power cut.  Raises ``OSError``.
    """
    # mkstemp opens O_CREAT | O_EXCL | O_NOFOLLOW with mode 0600, under a random name.
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as file:
            if mode != 0o600:
                os.fchmod(file.fileno(), mode)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
