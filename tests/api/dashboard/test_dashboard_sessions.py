"""Signing in and out of the dashboard, in process: links, cookies, CSRF, expiry."""

from __future__ import annotations

import re

import httpx
from dashboard_support import csrf_of

from roomkey.service import Bootstrap


async def _link(client: httpx.AsyncClient, token: str, **body: object) -> str:
    answer = await client.post(
        "/v1/dashboard/links", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 201, answer.text
    path = answer.json()["path"]
    assert re.fullmatch(r"/dashboard/sign-in#link=[\w-]{40,}", path), path
    return str(path.split("#link=")[1])


async def test_a_link_signs_in_once(client: httpx.AsyncClient, boot: Bootstrap) -> None:
    code = await _link(client, boot.admin_token)
    page = await client.get("/dashboard/sign-in")
    form = {"csrf": csrf_of(page.text), "code": code}
    first = await client.post("/dashboard/sign-in/link", data=form)
    assert first.status_code == 303, first.text
    assert (await client.get("/dashboard")).status_code == 200
    client.cookies.clear()
    page = await client.get("/dashboard/sign-in")
    again = await client.post(
        "/dashboard/sign-in/link", data={"csrf": csrf_of(page.text), "code": code}
    )
    assert again.status_code == 401
    assert "used already" in again.text
