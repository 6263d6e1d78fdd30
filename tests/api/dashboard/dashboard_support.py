"""Helpers for the dashboard's in-process tests: sign in, read CSRF tokens, mint tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from api_support import Clock

from roomkey.service import Bootstrap, RoomkeyService


@dataclass
class Timed:
    """A service on a clock the test moves, its bootstrap, and a client of its app."""

    service: RoomkeyService
    boot: Bootstrap
    clock: Clock
    client: httpx.AsyncClient


CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = CSRF.search(html)
    assert found, f"no CSRF field in:\n{html[:2000]}"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Sign in with a server token; the client's cookie jar then holds the session."""
    page = await client.get("/dashboard/sign-in")
    assert page.status_code == 200, page.text
    return await client.post(
        "/dashboard/sign-in", data={"csrf": csrf_of(page.text), "token": token}
    )


async def page_csrf(client: httpx.AsyncClient, path: str = "/dashboard") -> str:
    """The CSRF token of the signed-in session (read from a page)."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


async def post(
    client: httpx.AsyncClient, path: str, data: dict[str, Any] | None = None, **headers: str
) -> httpx.Response:
    """A signed-in form post with the session's CSRF token."""
    form = {"csrf": await page_csrf(client), **(data or {})}
    return await client.post(path, data=form, headers=headers)


async def mint(client: httpx.AsyncClient, admin_token: str, **body: Any) -> str:
    """A token minted through the API with the admin token."""
    answer = await client.post(
        "/v1/tokens", json=body, headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


async def server_token(client: httpx.AsyncClient, admin_token: str, *capabilities: str) -> str:
    """A server token holding ``capabilities`` only."""
    permissions = {"scope": ["api"], "capabilities": list(capabilities)}
    return await mint(client, admin_token, identity="limited", permissions=permissions)
