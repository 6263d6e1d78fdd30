"""Regressions from a hostile probe of the HTTP API: forged formats, deep JSON, unknown claims."""

from __future__ import annotations

import time

import httpx

from roomkey import jws
from roomkey.dialects import HUDDLE01
from roomkey.keys import HmacKey
from roomkey.service import Bootstrap


async def test_huddle01_token_signed_with_the_api_secret_is_not_valid(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    """An API client holds its HMAC secret; a Huddle01 token it signs with it is no host token."""
    payload = {"iss": boot.api_key, "roomId": "r1", "peerId": "mallory", "role": "host"}
    payload |= {"permissions": {"admin": True}, "exp": int(time.time()) + 600}
    token = jws.encode(payload, HmacKey(boot.api_key, boot.api_secret))
    assert HUDDLE01.matches(payload)
    response = await client.post("/v1/tokens/verify", json={"token": token})
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False and body["code"] == "disallowed_algorithm"
