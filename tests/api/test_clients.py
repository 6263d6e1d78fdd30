"""The client address: the socket peer, X-Forwarded-For only from trusted proxies; and the
limits per client address of the unauthenticated verify, validate and sandbox routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import assert_error, make_settings

from roomkey.api.app import create_app
from roomkey.api.clients import client_address, parse_networks
from roomkey.service import RoomkeyService


def scope(peer: str | None, *forwarded: str) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"client": (peer, 5000) if peer else None, "headers": headers}


PROXIES = parse_networks("10.0.0.0/8, 192.168.1.7")


def test_the_socket_peer_is_the_client_without_trusted_proxies() -> None:
    assert client_address(scope("203.0.113.9", "198.51.100.1")) == "203.0.113.9"
    assert client_address(scope(None)) == "unknown"


def test_an_untrusted_peer_cannot_claim_another_address() -> None:
    assert client_address(scope("203.0.113.9", "198.51.100.1"), PROXIES) == "203.0.113.9"


def test_a_trusted_proxy_names_the_client_read_from_the_right() -> None:
    # the client wrote "1.2.3.4"; the proxies appended what they saw
    got = client_address(scope("10.0.0.2", "1.2.3.4, 198.51.100.1, 192.168.1.7"), PROXIES)
    assert got == "198.51.100.1"
    assert client_address(scope("10.0.0.2", "1.2.3.4", "198.51.100.1"), PROXIES) == "198.51.100.1"
    assert client_address(scope("10.0.0.2", "10.1.1.1"), PROXIES) == "10.1.1.1"  # all trusted
    assert client_address(scope("10.0.0.2"), PROXIES) == "10.0.0.2"  # no header


def test_bad_networks_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'nope'"):
        parse_networks("10.0.0.0/8, nope")


async def open_client(tmp_path: Path, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    service = await RoomkeyService.open(make_settings(tmp_path, **settings))
    try:
        transport = httpx.ASGITransport(app=create_app(service=service), client=("10.0.0.2", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://rk.test") as client:
            assert service.bootstrap is not None
            client.headers["x-test-admin"] = service.bootstrap.admin_token
            yield client
    finally:
        await service.close()


@pytest.fixture
async def behind_proxy(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in open_client(
        tmp_path,
        verify_rate_limit_per_min=2,
        sandbox_rate_limit_per_min=1,
        trusted_proxies="10.0.0.0/8",
    ):
        yield client


@pytest.fixture
async def direct(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in open_client(tmp_path, verify_rate_limit_per_min=2):
        yield client


async def verify(client: httpx.AsyncClient, forwarded: str | None = None) -> httpx.Response:
    headers = {"x-forwarded-for": forwarded} if forwarded else {}
    return await client.post("/v1/tokens/verify", json={"token": "x.y.z"}, headers=headers)


async def test_unauthenticated_verify_is_limited_per_client_address(
    direct: httpx.AsyncClient,
) -> None:
    for forwarded in ("1.1.1.1", "2.2.2.2"):
        assert (await verify(direct, forwarded)).status_code == 200
    refused = await verify(direct, "3.3.3.3")  # the header is no one's word here
    assert_error(refused, 429, "rate_limited")
    assert refused.headers["retry-after"] == "60"
    validate = await direct.get("/rtc/validate", params={"access_token": "x.y.z"})
    assert_error(validate, 429, "rate_limited")  # the same address, the same limit


async def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    behind_proxy: httpx.AsyncClient,
) -> None:
    for _ in range(2):
        assert (await verify(behind_proxy, "1.1.1.1")).status_code == 200
    assert_error(await verify(behind_proxy, "1.1.1.1"), 429, "rate_limited")
    assert (await verify(behind_proxy, "2.2.2.2")).status_code == 200


async def test_a_verifying_caller_is_limited_as_itself(direct: httpx.AsyncClient) -> None:
    admin = {"Authorization": f"Bearer {direct.headers['x-test-admin']}"}
    for _ in range(2):
        answer = await direct.post("/v1/tokens/verify", json={"token": "x.y.z"}, headers=admin)
        assert answer.status_code == 200, answer.text
    assert (await verify(direct)).status_code == 200  # the address still has its own count
    answer = await direct.post("/v1/tokens/verify", json={"token": "x.y.z"}, headers=admin)
    assert_error(answer, 429, "rate_limited")


async def test_the_sandbox_limit_is_per_client_behind_a_proxy(
    behind_proxy: httpx.AsyncClient,
) -> None:
    admin = {"Authorization": f"Bearer {behind_proxy.headers['x-test-admin']}"}
    project = (await behind_proxy.get("/v1/project", headers=admin)).json()
    enabled = await behind_proxy.patch("/v1/project", json={"sandbox_enabled": True}, headers=admin)
    assert enabled.status_code == 200, enabled.text
    body = {"room_name": "demo", "participant_identity": "guest"}

    async def sandbox(forwarded: str) -> httpx.Response:
        headers = {"x-sandbox-id": project["id"], "x-forwarded-for": forwarded}
        return await behind_proxy.post(
            "/api/v2/sandbox/connection-details", json=body, headers=headers
        )

    assert (await sandbox("1.1.1.1")).status_code == 201
    assert_error(await sandbox("1.1.1.1"), 429, "rate_limited")
    assert (await sandbox("2.2.2.2")).status_code == 201
