"""Webhooks end to end: a real `roomkey serve` (SQLite and PostgreSQL) posting to a real
receiver process, which verifies Standard Webhooks deliveries with `standardwebhooks` and
LiveKit-format ones with livekit-api's `WebhookReceiver`; and the outbox surviving a SIGKILL of
the server in the middle of a delivery."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import Banner, Server, pg_execute, postgres_url, require_service, run_in_thread
from sqlalchemy.engine import make_url

from webhook_support import FAST_ENV, Receiver, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A started server with fast webhook settings; on PostgreSQL in a fresh database."""
    database_url: str | None = None
    base, dbname = postgres_url(), f"rk_e2e_{secrets.token_hex(4)}"
    if request.param == "postgresql":
        shown = make_url(base).render_as_string(hide_password=True)
        require_service("PostgreSQL", lambda: run_in_thread(pg_execute(base, "SELECT 1")), at=shown)
        run_in_thread(pg_execute(base, f"CREATE DATABASE {dbname}"))
        database_url = make_url(base).set(database=dbname).render_as_string(hide_password=False)
    logs = tmp_path / "logs"
    logs.mkdir()
    proc = Server(tmp_path / "data", logs, database_url=database_url, env=dict(FAST_ENV))
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()
        if database_url is not None:
            run_in_thread(pg_execute(base, f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"))


def _admin(node: Server) -> tuple[Banner, httpx.Client]:
    boot = Banner.read(node.data_dir)
    http = node.client()
    http.headers["Authorization"] = f"Bearer {boot.admin_token}"
    return boot, http


def _hook(http: httpx.Client, url: str, **body: Any) -> dict[str, Any]:
    made = http.post("/v1/webhooks", json={"url": url, "allow_private": True, **body})
    assert made.status_code == 201, made.text
    created: dict[str, Any] = made.json()
    return created


def test_both_formats_verify_with_the_real_receivers(node: Server, receiver: Receiver) -> None:
    boot, http = _admin(node)
    path, lk_path = f"/std-{node.port}", f"/lk-{node.port}"
    std = _hook(http, receiver.url(path))
    receiver.configure(path, secret=std["secret"])
    lk = _hook(http, receiver.url(lk_path), format="livekit")
    receiver.configure(lk_path, api_key=boot.api_key, api_secret=boot.api_secret)
    assert lk["livekit_key"] == boot.api_key

    assert http.post("/v1/rooms", json={"customRoomId": "e2e-hall"}).status_code == 201
    token = http.post("/v1/tokens", json={"identity": "ann", "room": "e2e-hall"}).json()["token"]
    joined = node.client().post("/v1/rooms/e2e-hall/join", json={"token": token})
    assert joined.status_code == 200, joined.text

    std_log = wait_for(
        lambda: [e for e in receiver.log(path)] if len(receiver.log(path)) >= 2 else []
    )
    assert all(e["verified"] for e in std_log), [e["error"] for e in std_log]
    assert [e["body"]["type"] for e in std_log] == ["room.created", "participant.joined"]
    lk_log = wait_for(lambda: receiver.log(lk_path) if len(receiver.log(lk_path)) >= 2 else [])
    assert all(e["verified"] for e in lk_log), [e["error"] for e in lk_log]
    assert [(e["body"]["event"], e["body"]["room"]) for e in lk_log] == [
        ("room_started", "e2e-hall"),
        ("participant_joined", "e2e-hall"),
    ]
    assert lk_log[1]["body"]["identity"] == "ann"
    assert lk_log[0]["headers"]["content-type"] == "application/webhook+json"


def test_the_outbox_survives_a_sigkill_in_the_middle_of_a_delivery(
    node: Server, receiver: Receiver
) -> None:
    _, http = _admin(node)
    path = f"/killed-{node.port}"
    hook = _hook(http, receiver.url(path))
    # the first attempt gets no answer before the server dies
    receiver.configure(path, secret=hook["secret"], delay_s=30, delay_first=1)
    assert http.post("/v1/rooms", json={"customRoomId": "survivor"}).status_code == 201
    wait_for(lambda: receiver.log(path))  # the attempt is in flight now
    node.kill()

    node.start()  # same database: the claim of the dead process runs out, this one sends
    _, http = _admin(node)
    log = wait_for(lambda: receiver.log(path) if len(receiver.log(path)) >= 2 else [])
    first, second = log[:2]
    assert first["webhook_id"] == second["webhook_id"]  # the same event, at least once
    assert second["verified"] and second["body"]["data"]["custom_room_id"] == "survivor"

    def delivered() -> list[dict[str, Any]]:
        page = http.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["data"]
        return page if page and page[0]["status"] == "delivered" else []

    (row,) = wait_for(delivered)
    assert row["attempts"] == 1  # the killed attempt was never recorded


def test_a_change_that_fails_reports_nothing(node: Server, receiver: Receiver) -> None:
    _, http = _admin(node)
    path = f"/nothing-{node.port}"
    hook = _hook(http, receiver.url(path), event_types=["revocation.created", "room.created"])
    receiver.configure(path, secret=hook["secret"])
    bad = http.post("/v1/revocations", json={"jti": "x", "identity": "both"})
    assert bad.status_code == 400  # refused: nothing was written, so no event either
    assert http.post("/v1/revocations", json={"jti": "only-this"}).status_code == 201
    (entry,) = wait_for(lambda: receiver.log(path))
    assert entry["body"]["data"]["jti"] == "only-this"
