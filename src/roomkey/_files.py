"""Files only their owner may open: the data directory, the database, the master key.

Modes are set explicitly, never left to the umask: a process started with the usual ``022``
would otherwise create them readable by every local user.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) with mode 0700, or set an existing one to 0700.

    Raises:
        OSError: it cannot be created, or its mode cannot be changed (another user owns it).
    """
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != PRIVATE_DIR_MODE:  # the umask, or an older start
        path.chmod(PRIVATE_DIR_MODE)


def private_file(path: Path) -> None:
    """Create an empty ``path`` with mode 0600, or take group and other access off an existing one.

    Raises:
        OSError: it cannot be created, or its mode cannot be changed.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        restrict(path)
        return
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)  # the umask may have taken the owner's bits too
    finally:
        os.close(fd)


def restrict(path: Path) -> None:
    """Take group and other access off ``path`` if it exists; the owner's bits are kept.

    Raises:
        OSError: its mode cannot be changed.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        path.chmod(mode & 0o700)


__all__ = ["PRIVATE_DIR_MODE", "PRIVATE_FILE_MODE", "private_dir", "private_file", "restrict"]
