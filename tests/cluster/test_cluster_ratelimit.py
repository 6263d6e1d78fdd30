"""One rate limit for three nodes: counted in Redis, whichever node a request reaches."""

from __future__ import annotations

import httpx
from cluster_support import Cluster, MakeCluster

LIMIT = 30
PER_NODE = LIMIT // 3


def assert_limited(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.json()["error"] == "rate_limited"
    assert 1 <= int(answer.headers["retry-after"]) <= 60


def test_a_callers_issuance_limit_holds_across_three_nodes(make_cluster: MakeCluster) -> None:
    cluster: Cluster = make_cluster(3, env={"ROOMKEY_RATE_LIMIT_PER_MIN": str(LIMIT)})
    for i in range(3):
        with cluster.client(i) as client:
            for n in range(PER_NODE):
                answer = client.post("/v1/tokens", json={"identity": f"n{i}-{n}", "room": "r"})
                assert answer.status_code == 201, answer.text
    for i in range(3):  # the 31st, on any node, and the lean /token path alike
        with cluster.client(i) as client:
            assert_limited(client.post("/v1/tokens", json={"identity": "late", "room": "r"}))
            body = {"room_name": "r", "participant_identity": "late"}
            assert_limited(client.post("/token", json=body))


def test_an_unauthenticated_limit_per_address_holds_across_three_nodes(
    make_cluster: MakeCluster,
) -> None:
    cluster: Cluster = make_cluster(3, env={"ROOMKEY_VERIFY_RATE_LIMIT_PER_MIN": str(LIMIT)})
    body = {"token": "not.a.token"}
    for node in cluster.nodes:
        with httpx.Client(base_url=node.url, timeout=10.0) as anonymous:
            for _ in range(PER_NODE):
                answer = anonymous.post("/v1/tokens/verify", json=body)
                assert answer.status_code == 200 and not answer.json()["valid"], answer.text
    for node in cluster.nodes:
        with httpx.Client(base_url=node.url, timeout=10.0) as anonymous:
            assert_limited(anonymous.post("/v1/tokens/verify", json=body))
            assert_limited(anonymous.get("/rtc/validate", params={"access_token": "x.y.z"}))
