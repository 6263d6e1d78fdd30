from __future__ import annotations

import httpx
import pytest

PAGES = ["", "/keys", "/playground", "/inspector", "/rooms", "/revocations", "/audit", "/settings"]


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_renders(admin: httpx.AsyncClient, path: str) -> None:
    page = await admin.get("/dashboard" + path)
    assert page.status_code == 200, page.text
    assert "<main" in page.text
