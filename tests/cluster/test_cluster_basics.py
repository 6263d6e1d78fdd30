"""Three nodes on one PostgreSQL database and Redis: each serves the same project."""

from __future__ import annotations

from cluster_support import Cluster, MakeCluster


def test_three_nodes_serve_the_first_project(make_cluster: MakeCluster) -> None:
    cluster: Cluster = make_cluster(3)
    for i in range(3):
        with cluster.client(i) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            answer = client.post("/v1/tokens", json={"identity": f"n{i}", "room": "r"})
            assert answer.status_code == 201, answer.text
