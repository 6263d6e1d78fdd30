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


@dataclass
class Context:
    """Shared dependencies of the services (built once per node)."""

    store: Store
    box: SecretBox
    settings: ServerSettings
    state: ServerState = field(default_factory=ServerState)
    clock: Callable[[], float] = time.time
    # held by a reload and by writes that must not be lost to a concurrent reload's swap
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
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
