"""Helpers for the dashboard's in-process tests: sign in, read CSRF tokens from pages."""

from __future__ import annotations

import re

import httpx

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
