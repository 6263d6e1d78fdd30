"""Owner-only files and directories, whatever the umask and whatever was there before."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from roomkey._files import private_dir, private_file, restrict


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o022, 0o002, 0o277], ids=["umask-022", "umask-002", "umask-277"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_a_new_directory_and_file_are_owner_only(tmp_path: Path, umask: int) -> None:
    directory = tmp_path / "a" / "data"
    private_dir(directory)
    private_file(directory / "db")
    assert _mode(directory) == 0o700
    assert _mode(directory / "db") == 0o600
    assert (directory / "db").read_bytes() == b""


def test_existing_ones_lose_group_and_other_access(tmp_path: Path) -> None:
    directory, file = tmp_path / "data", tmp_path / "data" / "db"
    directory.mkdir(mode=0o755)
    file.write_bytes(b"rows")
    directory.chmod(0o755)
    file.chmod(0o644)
    private_dir(directory)
    private_file(file)
    assert (_mode(directory), _mode(file), file.read_bytes()) == (0o700, 0o600, b"rows")


def test_restrict_keeps_the_owner_bits_and_ignores_a_missing_file(tmp_path: Path) -> None:
    file = tmp_path / "f"
    file.write_bytes(b"")
    file.chmod(0o464)
    restrict(file)
    assert _mode(file) == 0o400
    restrict(tmp_path / "missing")
    assert not (tmp_path / "missing").exists()
