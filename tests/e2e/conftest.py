"""Fixtures for the end-to-end suite: real server processes on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import Server, pg_execute, postgres_url, require_service, run_in_thread
from sqlalchemy.engine import make_url


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A started server; on PostgreSQL in a fresh database created (and dropped) for the run."""
    database_url: str | None = None
    base = postgres_url()
    dbname = f"rk_e2e_{secrets.token_hex(4)}"
    if request.param == "postgresql":
        shown = make_url(base).render_as_string(hide_password=True)
        require_service("PostgreSQL", lambda: run_in_thread(pg_execute(base, "SELECT 1")), at=shown)
        run_in_thread(pg_execute(base, f"CREATE DATABASE {dbname}"))
        database_url = make_url(base).set(database=dbname).render_as_string(hide_password=False)
    logs = tmp_path / "logs"
    logs.mkdir()
    proc = Server(data_dir=tmp_path / "data", log_dir=logs, database_url=database_url)
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()
        if database_url is not None:
            run_in_thread(pg_execute(base, f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"))
