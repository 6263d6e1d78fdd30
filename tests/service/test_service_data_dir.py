"""The data directory of a real service: owner-only, as is everything SQLite writes into it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_support import caller_of, make_settings

from roomkey.errors import ConfigurationError
from roomkey.service import RoomkeyService, TokenRequest
from roomkey.service.core import make_data_dir

FILES = ("master.key", "roomkey.db", "roomkey.db-wal", "roomkey.db-shm")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)  # what a login shell gives: files 0644, directories 0755
    try:
        yield
    finally:
        os.umask(old)


async def _issue_one(data_dir: Path) -> dict[str, int]:
    """A service in ``data_dir`` (key file, SQLite) issues a token (audited): the modes."""
    service = await RoomkeyService.open(make_settings(data_dir, master_key=None))
    try:
        await service.tokens.issue(
            caller_of(service), TokenRequest(identity="alice", room="r1"), "/v1/tokens"
        )
        return {name: _mode(data_dir / name) for name in FILES}
    finally:
        await service.close()


@pytest.mark.usefixtures("usual_umask")
async def test_a_new_data_dir_and_its_files_are_owner_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    modes = await _issue_one(data_dir)
    assert modes == dict.fromkeys(FILES, 0o600)
    assert _mode(data_dir) == 0o700


@pytest.mark.usefixtures("usual_umask")
async def test_an_existing_data_dir_open_to_others_is_closed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "roomkey.db").touch()
    for path, mode in ((data_dir, 0o755), (data_dir / "roomkey.db", 0o644)):
        path.chmod(mode)
    modes = await _issue_one(data_dir)
    assert modes == dict.fromkeys(FILES, 0o600)
    assert _mode(data_dir) == 0o700


def test_a_data_dir_that_cannot_be_made_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "file").touch()
    with pytest.raises(ConfigurationError, match="data directory") as info:
        make_data_dir(make_settings(tmp_path / "file" / "data"))
    assert info.value.details == {"path": str(tmp_path / "file" / "data")}
