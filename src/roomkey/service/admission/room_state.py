"""What the lobby and moderation need of the admission service, as a protocol.

:class:`~roomkey.service.admission.lobby.Lobby` and
:class:`~roomkey.service.admission.moderation.Moderation` act on the service that owns them;
they see it through :class:`AdmissionCore`, so that they import nothing above them and the
service may import them (no circle, not even one for types).
"""

from __future__ import annotations

from typing import Any, Protocol

from roomkey.claims import Claims
from roomkey.minting import MintedToken
from roomkey.service.admission.events import Audience, Event, EventType
from roomkey.service.admission.issuing import SessionTokens
from roomkey.service.admission.rules import Actor, RoomRules
from roomkey.service.admission.sessions import Session, SessionRegistry, SessionStatus
from roomkey.service.bans import BanService
from roomkey.service.context import Context
from roomkey.service.rooms import RoomService


class AdmissionCore(Protocol):
    """The admission service as its lobby and its moderation see it."""

    ctx: Context
    bans: BanService
    rooms: RoomService
    registry: SessionRegistry
    issuing: SessionTokens
    # what each live session's tokens say, for revocations
    claims: dict[str, list[tuple[Claims, str]]]

    def rules(self, project_id: str, room: str) -> RoomRules:
        """The room's admission settings."""
        ...

    def admit_policy(self, project_id: str, room: str) -> str:
        """Who may admit in the room."""
        ...

    def publish(
        self,
        session: Session | Actor,
        kind: EventType,
        data: dict[str, Any],
        audience: Audience = ...,
    ) -> Event:
        """Publish one event on the room's bus."""
        ...

    def end(
        self,
        session: Session,
        status: SessionStatus,
        reason: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        """End a live session."""
        ...

    def require_up(self) -> None:
        """Raise AdmissionUnavailableError while the nodes' Redis does not answer."""
        ...

    async def route(self, session: Session, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Have the node owning ``session`` run ``op`` on it; its answer."""
        ...

    def check_capacity(self, project_id: str, room: str, identity: str) -> None:
        """Raise RoomFullError when the room holds its maximum of admitted participants."""
        ...

    def admitted(self, session: Session, platform: MintedToken | None) -> None:
        """Mark ``session`` admitted and announce it to the room."""
        ...

    def public(self, session: Session) -> dict[str, Any]:
        """What the room sees of a session."""
        ...

    def target(self, actor: Actor, identity: str) -> Session:
        """The live session of ``identity`` in the actor's room."""
        ...

    def live_sessions(self) -> list[Session]:
        """Every live session on this node."""
        ...
