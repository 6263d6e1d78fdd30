"""Helpers for the service and API suites: a settable clock, settings, a second project,
and PostgreSQL targets (one fresh schema per test) for code that differs by backend."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))

from store_support import (
    pg_execute,
    postgres_url,
    require_service,
    run_in_thread,
)

from roomkey.service import Caller, RoomkeyService, ServerSettings
from roomkey.store import ProjectRecord

NOW = 1_795_000_000  # a fixed clock: no test sleeps
MASTER_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"  # 32 bytes, base64url

__all__ = [
    "MASTER_KEY",
    "NOW",
    "Clock",
    "add_project",
    "caller_of",
    "make_settings",
    "pg_execute",
    "postgres_url",
    "require_service",
    "run_in_thread",
]


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: float = float(NOW)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_settings(data_dir: Path, **overrides: object) -> ServerSettings:
    """Settings for an in-process service on SQLite in ``data_dir`` (unless overridden)."""
    values: dict[str, object] = {"data_dir": data_dir, "master_key": MASTER_KEY}
    values.update(overrides)
    return ServerSettings(**values)  # type: ignore[arg-type]


def caller_of(service: RoomkeyService) -> Caller:
    """The bootstrap caller (what the first start's admin token authenticates as)."""
    boot = service.bootstrap
    assert boot is not None
    return Caller(boot.project_id, boot.api_key, "admin")


async def add_project(service: RoomkeyService, project_id: str) -> tuple[Caller, str]:
    """A second project with its own API key (the store supports many; the API creates one)."""
    await service.ctx.store.create_project(
        ProjectRecord(id=project_id, name=project_id, created_at=service.ctx.now())
    )
    await service.reload()
    record, secret = await service.keys.create_api_key(project_id, "second project key")
    return Caller(project_id, record.kid, "admin"), secret
