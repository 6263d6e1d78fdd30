"""Several real `roomkey serve` processes on loopback sharing one PostgreSQL database and one
Redis server: a cluster as a team would run it behind a load balancer."""

from __future__ import annotations

import base64
import secrets
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from e2e_support import Banner, Server, pg_execute, postgres_url, require_service, run_in_thread
from sqlalchemy.engine import make_url

from redis_support import PrivateRedis, new_namespace, require_redis

__all__ = [
    "Banner",
    "Cluster",
    "MakeCluster",
    "PrivateRedis",
    "Server",
    "create_database",
    "drop_database",
]


def create_database(prefix: str = "rk_cluster") -> tuple[str, str]:
    """A fresh PostgreSQL database: (its name, its URL). Skips (fails under CI) without one."""
    base = postgres_url()
    shown = make_url(base).render_as_string(hide_password=True)
    require_service("PostgreSQL", lambda: run_in_thread(pg_execute(base, "SELECT 1")), at=shown)
    name = f"{prefix}_{secrets.token_hex(4)}"
    run_in_thread(pg_execute(base, f"CREATE DATABASE {name}"))
    return name, make_url(base).set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    run_in_thread(pg_execute(postgres_url(), f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@dataclass
class Cluster:
    """``size`` nodes on one database, one Redis and one master key; node 0 starts first and
    creates the first project (its credentials are :attr:`banner`)."""

    root: Path
    database_url: str
    redis_url: str | None
    size: int = 3
    env: dict[str, str] = field(default_factory=dict)
    namespace: str = field(default_factory=new_namespace)
    master_key: str = field(
        default_factory=lambda: (
            base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        )
    )
    nodes: list[Server] = field(default_factory=list)

    def start(self, *, at_once: bool = False) -> None:
        """Start every node, one after another (node 0 creates the project), or all at once
        (they race to bootstrap an empty database)."""
        self.nodes = [self.node_server(i) for i in range(self.size)]
        if not at_once:
            for node in self.nodes:
                node.start()
            return
        threads = [threading.Thread(target=node.start) for node in self.nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(node.process is not None for node in self.nodes), "a node did not start"

    def node_server(self, i: int) -> Server:
        data, logs = self.root / f"node{i}" / "data", self.root / f"node{i}" / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        env = {
            "ROOMKEY_MASTER_KEY": self.master_key,
            "ROOMKEY_REDIS_NAMESPACE": self.namespace,
            **self.env,
        }
        if self.redis_url is not None:
            env["ROOMKEY_REDIS_URL"] = self.redis_url
        return Server(data_dir=data, log_dir=logs, database_url=self.database_url, env=env)

    @property
    def banner(self) -> Banner:
        """The first start's credentials (in the data directory of the node that made them)."""
        for node in self.nodes:
            if (node.data_dir / "first-start-credentials").exists():
                return Banner.read(node.data_dir)
        raise AssertionError("no node handed over first-start credentials")

    def client(self, i: int, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.banner.admin_token}"}
        return httpx.Client(base_url=self.nodes[i].url, timeout=10.0, headers=headers)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def shared_redis() -> str:
    """The machine's Redis server (skips, or fails under CI, when it does not answer)."""
    return require_redis()


MakeCluster = Callable[..., Cluster]
