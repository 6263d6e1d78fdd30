"""Server tokens with named capabilities from the CLI: ``admin token --permissions`` and
``token create --capabilities``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import jwt
import pytest
from cli_support import create, invoke, one_error_line

from roomkey.capabilities import Capability
from roomkey.service import RoomkeyService, load_settings


def _first_start(data_dir: Path) -> None:
    """What the server's first start does: create the first project."""

    async def start() -> None:
        service = await RoomkeyService.open(load_settings(None, data_dir=data_dir))
        await service.close()

    asyncio.run(start())


def _grant(token: str) -> dict[str, object]:
    payload = jwt.decode(token, options={"verify_signature": False})
    grant: dict[str, object] = payload["grant"]
    return grant


def _admin_token(data_dir: Path, *extra: str) -> str:
    _first_start(data_dir)
    result = invoke(["admin", "token", "--data-dir", str(data_dir), *extra])
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def test_admin_token_defaults_to_admin(tmp_path: Path) -> None:
    grant = _grant(_admin_token(tmp_path))
    assert grant["scope"] == ["api"] and grant["capabilities"] == ["admin"]


def test_admin_token_carries_exactly_the_permissions_named(tmp_path: Path) -> None:
    token = _admin_token(tmp_path, "--permissions", "rooms:write,tokens:issue")
    assert _grant(token)["capabilities"] == ["rooms:write", "tokens:issue"]


@pytest.mark.parametrize("permissions", ["rooms:everything", "", " , "])
def test_admin_token_refuses_unknown_or_no_permissions(tmp_path: Path, permissions: str) -> None:
    _first_start(tmp_path)
    result = invoke(["admin", "token", "--data-dir", str(tmp_path), "--permissions", permissions])
    assert result.exit_code != 0
    assert one_error_line(result).endswith("[invalid_grant]")


def test_token_create_capabilities_make_a_server_token() -> None:
    grant = _grant(create("--capabilities", "rooms:read,audit:read"))
    assert grant["scope"] == ["api"]
    assert grant["capabilities"] == ["audit:read", "rooms:read"]
    both = _grant(create("--capabilities", "rooms:read", "--scope", "room,api"))
    assert both["scope"] == ["api", "room"]


def test_token_create_without_capabilities_is_a_participant_token() -> None:
    grant = _grant(create())
    assert grant["scope"] == ["room"] and grant["capabilities"] == []


def test_every_capability_is_accepted_by_name() -> None:
    names = ",".join(c.value for c in Capability)
    assert set(_grant(create("--capabilities", names))["capabilities"]) == {  # type: ignore[arg-type]
        c.value for c in Capability
    }
