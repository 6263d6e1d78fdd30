"""Three real nodes on one PostgreSQL database and Redis: a change made on one node is enforced
on the others within a second, through Redis or, while Redis is down, by polling the database;
a node SIGKILLed under load loses nothing it acknowledged."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cluster_support import Cluster, MakeCluster, PrivateRedis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webhook_support import Receiver, wait_for

pytestmark = pytest.mark.slow
PROPAGATION_S = 1.0  # the guarantee: a revocation on one node is enforced on all within 1 s


def verify(cluster: Cluster, i: int, token: str) -> dict[str, Any]:
    answer = httpx.post(f"{cluster.nodes[i].url}/v1/tokens/verify", json={"token": token})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def mint(cluster: Cluster, i: int, identity: str, room: str = "r") -> str:
    with cluster.client(i) as http:
        answer = http.post("/v1/tokens", json={"identity": identity, "room": room})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def until(check: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until ``check()`` holds (polling real processes); fails after ``timeout_s``."""
    start = time.monotonic()
    while not check():
        elapsed = time.monotonic() - start
        assert elapsed < timeout_s, f"not within {timeout_s} s"
        time.sleep(0.005)
    return time.monotonic() - start


def test_a_revocation_on_a_is_enforced_on_b_and_c_within_a_second(
    make_cluster: MakeCluster,
) -> None:
    # polling once a minute: within a second means through Redis
    cluster = make_cluster(3, env={"ROOMKEY_REFRESH_INTERVAL_S": "60"})
    token = mint(cluster, 0, "eve")
    assert all(verify(cluster, i, token)["valid"] for i in range(3))
    with cluster.client(0) as http:
        made = http.post("/v1/revocations", json={"identity": "eve"})
    assert made.status_code == 201, made.text
    for i in (1, 2):
        until(lambda i=i: verify(cluster, i, token).get("code") == "revoked", PROPAGATION_S)
    for i in range(3):
        ready = cluster.client(i).get("/readyz").json()
        assert ready["feed"]["redis"] == "connected" and ready["feed"]["mode"] == "redis"
        assert ready["admission"] == {"redis": "connected"}
        metrics = cluster.client(i).get("/metrics").text
        assert "roomkey_feed_redis_connected 1.0" in metrics


def test_a_key_rotated_on_b_signs_tokens_that_c_accepts(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(3)
    with cluster.client(1) as http:
        rotated = http.post(f"/v1/keys/{cluster.banner.api_key}/rotate", json={"overlap_s": 60})
    assert rotated.status_code == 201, rotated.text
    kid, secret = rotated.json()["api_key"], rotated.json()["api_secret"]
    # a LiveKit-format token made by PyJWT with the new key, not by roomkey
    now = int(time.time())
    claims = {
        "iss": kid,
        "sub": "carol",
        "nbf": now,
        "exp": now + 300,
        "video": {"room": "r", "roomJoin": True},
    }
    token = jwt.encode(claims, secret, algorithm="HS256")
    until(lambda: verify(cluster, 2, token)["valid"], 5.0)
    assert verify(cluster, 0, token)["valid"]


def test_with_redis_stopped_nodes_poll_and_converge_when_it_returns(
    make_cluster: MakeCluster, private_redis: PrivateRedis
) -> None:
    cluster = make_cluster(
        3, redis_url=private_redis.url, env={"ROOMKEY_REFRESH_INTERVAL_S": "0.5"}
    )
    token = mint(cluster, 0, "eve")
    private_redis.stop()
    until(lambda: all(_feed(cluster, i)["redis"] == "down" for i in range(3)), 10.0)
    assert _feed(cluster, 1)["mode"] == "polling"
    with cluster.client(0) as http:
        assert http.post("/v1/revocations", json={"identity": "eve"}).status_code == 201
    for i in (1, 2):  # the polling bound: refresh_interval_s, plus a request
        until(lambda i=i: verify(cluster, i, token).get("code") == "revoked", 5.0)
    private_redis.start()
    until(lambda: all(_feed(cluster, i)["redis"] == "connected" for i in range(3)), 15.0)
    other = mint(cluster, 2, "mallory")
    with cluster.client(2) as http:
        assert http.post("/v1/revocations", json={"identity": "mallory"}).status_code == 201
    for i in (0, 1):
        until(lambda i=i: verify(cluster, i, other).get("code") == "revoked", 5.0)
    revisions = {_feed(cluster, i)["revision"] for i in range(3)}
    assert len(revisions) == 1, revisions


def _feed(cluster: Cluster, i: int) -> dict[str, Any]:
    feed: dict[str, Any] = httpx.get(f"{cluster.nodes[i].url}/readyz").json()["feed"]
    return feed


class Load:
    """Tokens and revocations sent to nodes 0 and 1 from threads; what each acknowledged."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.tokens: list[dict[str, Any]] = []  # acknowledged (201): their jti and identity
        self.revocations: list[str] = []  # acknowledged revocation ids
        self.revoked: list[str] = []  # and their identities
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in (0, 1, 0, 1)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _run(self, node: int) -> None:
        n = 0
        with self.cluster.client(node) as http:
            while not self.stop.is_set():
                n += 1
                name = f"{threading.get_ident()}-{n}"
                try:
                    self._one(http, name, n)
                except httpx.TransportError:
                    if node == 0:
                        return  # the node is gone; nothing it did not acknowledge counts
                    raise

    def _one(self, http: httpx.Client, name: str, n: int) -> None:
        if n % 4:
            answer = http.post("/v1/tokens", json={"identity": name, "room": "load"})
            if answer.status_code == 201:
                claims = jwt.decode(answer.json()["token"], options={"verify_signature": False})
                self.tokens.append({"jti": claims["jti"], "identity": name})
        else:
            answer = http.post("/v1/revocations", json={"identity": name, "reason": "load"})
            if answer.status_code == 201:
                self.revocations.append(answer.json()["id"])
                self.revoked.append(name)


def test_a_node_killed_under_load_loses_nothing_it_acknowledged(
    make_cluster: MakeCluster, receiver: Receiver
) -> None:
    cluster = make_cluster(
        3,
        env={
            "ROOMKEY_WEBHOOK_ALLOW_PRIVATE": "true",
            "ROOMKEY_WEBHOOK_POLL_S": "0.05",
            "ROOMKEY_WEBHOOK_LEASE_S": "2",
            "ROOMKEY_WEBHOOK_TIMEOUT_S": "1.5",
        },
    )
    path = f"/cluster-{cluster.nodes[0].port}"
    with cluster.client(2) as http:
        hook = http.post(
            "/v1/webhooks",
            json={
                "url": receiver.url(path),
                "allow_private": True,
                "event_types": ["revocation.created"],
            },
        )
    assert hook.status_code == 201, hook.text
    receiver.configure(path, secret=hook.json()["secret"])
    with Load(cluster) as load:
        wait_for(lambda: len(load.revocations) >= 20 and len(load.tokens) >= 60, timeout_s=60)
        cluster.nodes[0].kill()
        wait_for(lambda: len(load.revocations) >= 40, timeout_s=60)  # 1 and 2 keep serving
    with cluster.client(2) as http:
        stored = {r["id"] for r in http.get("/v1/revocations").json()}
        assert set(load.revocations) <= stored
        audited = _audited_jtis(http)
    assert {t["jti"] for t in load.tokens} <= audited

    # every acknowledged revocation's webhook arrives (from nodes 1 and 2), verified
    def seen() -> set[str]:
        return {e["body"]["data"]["id"] for e in receiver.log(path) if e["verified"]}

    wait_for(lambda: set(load.revocations) <= seen(), timeout_s=60)
    # and the surviving nodes enforce every acknowledged revocation (tokens made by PyJWT)
    boot, now = cluster.banner, int(time.time())
    for identity in load.revoked:
        claims = {
            "iss": boot.api_key,
            "sub": identity,
            "exp": now + 60,
            "video": {"room": "x", "roomJoin": True},
        }
        token = jwt.encode(claims, boot.api_secret, algorithm="HS256")
        assert verify(cluster, 1, token).get("code") == "revoked", identity
        assert verify(cluster, 2, token).get("code") == "revoked", identity


def _audited_jtis(http: httpx.Client) -> set[str]:
    jtis: set[str] = set()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500, "room": "load"}
        if cursor:
            params["cursor"] = cursor
        page = http.get("/v1/audit", params=params).json()
        jtis |= {row["jti"] for row in page["data"]}
        cursor = page.get("next_cursor")
        if not cursor:
            return jtis


@pytest.fixture(scope="module")
def receiver() -> Any:
    started = Receiver().start()
    try:
        yield started
    finally:
        started.stop()
