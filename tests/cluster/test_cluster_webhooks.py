"""Webhooks with several real nodes: a node SIGKILLed in the middle of a delivery leaves the
event to another node, which delivers it (at least once, verified by `standardwebhooks` in the
receiver process)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster_support import MakeCluster

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webhook_support import FAST_ENV, Receiver, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    try:
        yield started
    finally:
        started.stop()


def test_a_node_killed_mid_delivery_leaves_the_event_to_another(
    make_cluster: MakeCluster, receiver: Receiver
) -> None:
    # node 0 alone at first, so that it is the one holding the attempt when it dies; nodes 1
    # and 2 (same database and Redis) start after
    cluster = make_cluster(1, env=FAST_ENV)
    path = f"/mid-{cluster.nodes[0].port}"
    with cluster.client(0) as http:
        hook = http.post("/v1/webhooks", json={"url": receiver.url(path), "allow_private": True})
        assert hook.status_code == 201, hook.text
        # the first attempt gets no answer before its node dies
        receiver.configure(path, secret=hook.json()["secret"], delay_s=30, delay_first=1)
        assert http.post("/v1/rooms", json={"customRoomId": "handed-over"}).status_code == 201
    wait_for(lambda: receiver.log(path))  # the attempt is in flight on node 0
    cluster.nodes[0].kill()  # before its attempt times out and is recorded
    others = [cluster.node_server(i) for i in (1, 2)]
    for node in others:  # the claim of the dead node runs out; one of these sends
        node.start()
    cluster.nodes += others

    log = wait_for(lambda: receiver.log(path) if len(receiver.log(path)) >= 2 else [])
    first, second = log[:2]
    assert first["webhook_id"] == second["webhook_id"]  # the same event, at least once
    assert second["verified"], second["error"]
    assert second["body"]["data"]["custom_room_id"] == "handed-over"

    def delivered() -> list[dict[str, Any]]:
        with cluster.client(1) as http:
            page = http.get(f"/v1/webhooks/{hook.json()['id']}/deliveries").json()["data"]
        return page if page and page[0]["status"] == "delivered" else []

    (row,) = wait_for(delivered)
    assert row["attempts"] == 1  # the killed attempt was never recorded
