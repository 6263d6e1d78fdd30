"""``/docs`` works offline: every asset it loads is served by the app itself."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import httpx

from roomkey.api.swagger import ASSETS

BASE = "http://roomkey.test"
# Every URL the page loads: link/script/img targets, and the OpenAPI document Swagger UI fetches.
_REFERENCES = re.compile(r"""(?:href|src)=["']([^"']+)["']|\burl:\s*'([^']+)'""")


async def test_the_page_references_only_same_origin_urls(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = [a or b for a, b in _REFERENCES.findall(page.text)]
    assert len(urls) >= 4  # the stylesheet, the icon, the script and the OpenAPI document
    foreign = [u for u in urls if urlsplit(urljoin(BASE + "/docs", u)).netloc != "roomkey.test"]
    assert foreign == []
    assert "cdn" not in page.text.lower()


async def test_every_asset_the_page_loads_is_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    for url in (a or b for a, b in _REFERENCES.findall(page.text)):
        answer = await client.get(url)
        assert answer.status_code == 200, url
        assert answer.content, url
    bundle = await client.get("/docs/static/swagger-ui-bundle.js")
    assert bundle.content == (ASSETS / "swagger-ui-bundle.js").read_bytes()
    assert "javascript" in bundle.headers["content-type"]
    css = await client.get("/docs/static/swagger-ui.css")
    assert css.headers["content-type"].startswith("text/css")


async def test_redoc_is_off_rather_than_blank(client: httpx.AsyncClient) -> None:
    assert (await client.get("/redoc")).status_code == 404


def test_the_assets_ship_with_their_license() -> None:
    assert "Apache License" in (ASSETS / "LICENSE").read_text()
