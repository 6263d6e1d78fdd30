"""The hot routes (served ahead of FastAPI's stack) answer exactly as the documented routes do."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from roomkey import AccessToken
from roomkey.api.hot import RoomkeyApp
from roomkey.service import Bootstrap

GOOD = b'{"room_name":"r1","participant_identity":"alice"}'


def _cases(boot: Bootstrap) -> list[tuple[str, bytes, dict[str, str]]]:
    admin = {"Authorization": f"Bearer {boot.admin_token}"}
    room_token = (
        AccessToken(boot.api_key, boot.api_secret).with_identity("p").with_room("r1").to_jwt()
    )
    return [
        ("/token", GOOD, admin),
        ("/token", GOOD, {"Authorization": boot.admin_token}),  # raw, VideoSDK style
        ("/token", b"", admin),  # everything generated
        ("/token", b"{not json", admin),
        ("/token", b'{"room_nam":"r1"}', admin),
        ("/token", b'{"room_name":7}', admin),
        ("/token", b"[1, 2]", admin),
        ("/token", GOOD, {}),
        ("/token", GOOD, {"Authorization": "Bearer garbage"}),
        ("/token", GOOD, {"Authorization": "Basic abc"}),
        ("/token", GOOD, {"Authorization": f"Bearer {room_token}"}),
        ("/token", b"x" * 5000, admin),  # over the 4 KiB cap of this suite
        ("/v1/tokens/verify", b'{"token":"a.b.c"}', {}),
        ("/v1/tokens/verify", b'{"token":"' + room_token.encode() + b'","room":"r1"}', {}),
        ("/v1/tokens/verify", b'{"token":"' + room_token.encode() + b'","room":"r2"}', {}),
        ("/v1/tokens/verify", b'{"tokn":"x"}', {}),
        ("/v1/tokens/verify", b"", {}),
    ]


def _shape(response: httpx.Response) -> tuple[int, Any]:
    """Status and body, with the parts that differ per token (the tokens) blanked."""
    try:
        body = response.json()
    except ValueError:
        return response.status_code, response.text
    if isinstance(body, dict):
        body = {k: ("<token>" if k == "participant_token" else v) for k, v in body.items()}
        if isinstance(body.get("claims"), dict):
            body["claims"] = {k: v for k, v in body["claims"].items() if k != "jti"}
    return response.status_code, body


async def test_hot_and_documented_routes_answer_alike(app: FastAPI, boot: Bootstrap) -> None:
    assert isinstance(app, RoomkeyApp)
    hot = app._hot
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for path, body, headers in _cases(boot):
            app._hot = hot
            fast = await client.post(path, content=body, headers=headers)
            app._hot = None  # the same request through FastAPI's middleware and routing
            slow = await client.post(path, content=body, headers=headers)
            assert _shape(fast) == _shape(slow), (path, body[:40], headers)
            assert fast.headers.get("retry-after") == slow.headers.get("retry-after")
    app._hot = hot


@pytest.mark.parametrize("path", ["/token", "/v1/tokens/verify"])
async def test_hot_routes_are_measured_like_the_others(
    app: FastAPI, client: httpx.AsyncClient, auth: dict[str, str], path: str
) -> None:
    await client.post(path, content=GOOD if path == "/token" else b"{}", headers=auth)
    metrics = (await client.get("/metrics")).text
    assert f'route="{path}"' in metrics
