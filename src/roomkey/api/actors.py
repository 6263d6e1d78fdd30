"""Who acts on a live room or a session: the dependencies of the admission routes.

A room route accepts an admitted session of that room (its credential in ``X-Session-Token``
or as ``Authorization: Bearer rks1....``) or a server token with ``rooms:moderate`` for the
room; which right the session needs (``moderate``, ``admin``, admitting) is the service's rule,
named here for the documentation. A session route accepts that session's own credential only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request

from roomkey.api.deps import AUTHORIZATION_DOC, authorization_header
from roomkey.capabilities import Capability
from roomkey.service.admission import Session
from roomkey.service.admission.rules import Actor

SESSION_DOC = "The session credential (`rks1.`...) from the join, instead of Authorization."


class RoomActor:
    """The actor pipeline of a live-room route (see the module docstring)."""

    capability = Capability.ROOMS_MODERATE

    def __init__(self, right: str | None = None) -> None:
        # the session right the route's action needs, for the documentation
        self.right = right

    def describe(self) -> str:
        """The requirement as docs and OpenAPI state it."""
        session = "an admitted session of the room"
        if self.right == "admit":
            session += " that may admit (the room's `admit_policy`)"
        elif self.right is not None:
            session += f" with `{self.right}`"
        return f"`{self.capability.value}` for the room, or {session}"

    async def __call__(
        self,
        request: Request,
        room: str,
        authorization: Annotated[str | None, Header(description=AUTHORIZATION_DOC)] = None,
        x_session_token: Annotated[str | None, Header(description=SESSION_DOC)] = None,
    ) -> Actor:
        service = request.app.state.service
        header = authorization_header(request.scope["headers"])
        actor: Actor = service.admission.actor(header, x_session_token, room)
        return actor

    def __repr__(self) -> str:
        return f"RoomActor({self.right!r})"


class OwnSession:
    """The session route's pipeline: the credential of the session the path names."""

    def __init__(self, *, live: bool = True) -> None:
        self.live = live

    async def __call__(
        self,
        request: Request,
        session_id: str,
        authorization: Annotated[str | None, Header(description=SESSION_DOC)] = None,
        x_session_token: Annotated[str | None, Header(description=SESSION_DOC)] = None,
    ) -> Session:
        service = request.app.state.service
        header = authorization_header(request.scope["headers"])
        session: Session = service.admission.own_session(
            header, x_session_token, session_id, live=self.live
        )
        return session


PARTICIPANTS = RoomActor()
ADMITTER = RoomActor("admit")
MODERATOR = RoomActor("moderate")
ADMIN = RoomActor("admin")
LIVE_SESSION = OwnSession()
ANY_SESSION = OwnSession(live=False)
