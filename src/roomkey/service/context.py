"""The pieces every service shares: store, in-memory state, secret box, settings, clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from roomkey.secretbox import SecretBox
from roomkey.service.settings import ServerSettings
from roomkey.service.state import ProjectState, ServerState
from roomkey.store import NotFoundError, Store


class WriteLock:
    """An asyncio lock that the task holding it may take again (a write calling another).

    Held by the change feed while it reads and files a change, and by the services around a
    durable write and its memory update, so that neither files an older state over a newer one.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[object] | None = None
        self._depth = 0

    async def __aenter__(self) -> None:
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            self._depth += 1
            return
        await self._lock.acquire()
        self._owner, self._depth = task, 1

    async def __aexit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()

    def locked(self) -> bool:
        """Whether some task holds the lock."""
        return self._lock.locked()


@dataclass
class Context:
    """Shared dependencies of the services (built once per node)."""

    store: Store
    box: SecretBox
    settings: ServerSettings
    state: ServerState = field(default_factory=ServerState)
    clock: Callable[[], float] = time.time
    # held by a reload, by the change feed, and by writes around their memory update
    write_lock: WriteLock = field(default_factory=WriteLock)
    # called after a write that may have added webhook events (wakes the delivery worker)
    events_written: Callable[[], None] = field(default=lambda: None)

    def now(self) -> int:
        """The current time in whole seconds."""
        return int(self.clock())

    def project(self, project_id: str) -> ProjectState:
        """A project's in-memory state; raises NotFoundError."""
        project = self.state.projects.get(project_id)
        if project is None:
            raise NotFoundError(f"project {project_id!r} does not exist", resource="project")
        return project
