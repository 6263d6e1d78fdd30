"""A real uvicorn server in the test's own loop, on a free port, and a test-only admission
object over the real bus, registry and credentials (what ``service.admission`` offers the event
route until the admission service is merged: ``authenticate_session``, ``bus``, ``snapshot``,
``attach``, ``detach``, ``admit_policy``)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI

from roomkey.errors import InvalidSessionError
from roomkey.grants import Grant, JoinMode
from roomkey.service.admission import (
    Event,
    EventType,
    InMemoryBus,
    Session,
    SessionCredentials,
    SessionRegistry,
    SessionStatus,
)
from roomkey.service.admission.events import EVERYONE, Audience
from roomkey.service.admission.protocol import StreamLimits


@dataclass
class TestAdmission:
    """Live state of one project's rooms, with sessions the test creates by hand."""

    project_id: str
    bus: InMemoryBus = field(default_factory=InMemoryBus)
    registry: SessionRegistry = field(default_factory=SessionRegistry)
    credentials: SessionCredentials = field(
        default_factory=lambda: SessionCredentials(secrets.token_bytes(32))
    )
    stream_limits: StreamLimits = field(default_factory=lambda: StreamLimits(auth_timeout_s=0.5))
    attached: list[str] = field(default_factory=list)
    detached: list[str] = field(default_factory=list)

    __test__ = False  # not a test class, whatever its name

    def authenticate_session(self, credential: str) -> Session:
        claim = self.credentials.check(credential, time.time())
        session = self.registry.get(claim.session_id)
        if session is None or not session.live:
            raise InvalidSessionError("the session is no longer live")
        return session

    def snapshot(self, session: Session | None) -> dict[str, Any]:
        sessions = self.registry.in_room(self.project_id, session.room if session else "")
        return {"participants": [s.public() for s in sessions]}

    def attach(self, session: Session) -> None:
        self.attached.append(session.id)

    def detach(self, session: Session) -> None:
        self.detached.append(session.id)

    def admit_policy(self, project_id: str, room: str) -> str:
        return "direct"

    async def close(self) -> None:
        """Nothing to stop (the service closes its admission on the way out)."""

    def join(self, identity: str, room: str = "r", **grant: Any) -> tuple[Session, str]:
        """A live session of ``identity`` and its credential."""
        waiting = grant.get("join") == JoinMode.ASK
        session = Session(
            id=f"ses_{identity}_{secrets.token_hex(3)}",
            project_id=self.project_id,
            room=room,
            identity=identity,
            grant=Grant(**grant),
            dialect="native",
            status=SessionStatus.WAITING if waiting else SessionStatus.ADMITTED,
            created_at=time.time(),
        )
        self.registry.add(session)
        return session, self.credentials.mint(session.id, self.project_id, room, time.time())

    def publish(
        self, kind: EventType, room: str = "r", audience: Audience = EVERYONE, **data: Any
    ) -> Event:
        event = Event(kind, room, time.time(), data, audience, project_id=self.project_id)
        return self.bus.publish(event)


@asynccontextmanager
async def live_server(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 on a free port; yields its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, ws_max_size=64 * 1024
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
