"""Fixtures for the many-node suite: a database per test, the shared Redis or a private one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_support import (
    Cluster,
    MakeCluster,
    PrivateRedis,
    create_database,
    drop_database,
    shared_redis,
)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server of the test's own, started; the test may stop and start it."""
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[MakeCluster]:
    """Build and start a cluster: ``make_cluster(size=3, redis_url=..., env={...})``.

    The default Redis is the machine's shared server (a namespace of the test's own).
    """
    made: list[Cluster] = []
    databases: list[str] = []

    def make(
        size: int = 3, redis_url: str | None = "shared", at_once: bool = False, **kwargs: object
    ) -> Cluster:
        name, url = create_database()
        databases.append(name)
        redis = shared_redis() if redis_url == "shared" else redis_url
        cluster = Cluster(tmp_path / f"cluster{len(made)}", url, redis, size, **kwargs)  # type: ignore[arg-type]
        made.append(cluster)
        cluster.start(at_once=at_once)
        return cluster

    try:
        yield make
    finally:
        for cluster in made:
            cluster.stop()
        for name in databases:
            drop_database(name)
