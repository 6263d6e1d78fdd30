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


def test_nodes_starting_at_once_on_an_empty_database_create_one_project(
    make_cluster: MakeCluster,
) -> None:
    cluster: Cluster = make_cluster(3, at_once=True)
    made = [n for n in cluster.nodes if (n.data_dir / "first-start-credentials").exists()]
    assert len(made) == 1, "exactly one node hands over first-start credentials"
    for i in range(3):
        with cluster.client(i) as client:
            assert client.get("/v1/project").json()["id"] == cluster.banner.project_id
