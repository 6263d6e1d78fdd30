"""TEMP (until h6 lands the persisted BanService): bans held in memory only.

The interface is the one h6 implements: a ban refuses admission of the identity to the room and
revokes the identity's tokens for it (an identity+room revocation).
"""

from __future__ import annotations

from dataclasses import dataclass

from roomkey.errors import NotFoundError
from roomkey.service.context import Context
from roomkey.service.revocations import RevocationService


@dataclass(frozen=True, slots=True)
class BanRecord:
    """One ban of an identity from a room."""

    project_id: str
    room: str
    identity: str
    created_at: int
    reason: str = ""
    by: str = ""


class BanService:
    """Ban and lift, in memory (TEMP)."""

    def __init__(self, ctx: Context, revocations: RevocationService) -> None:
        self.ctx, self.revocations = ctx, revocations
        self._bans: dict[tuple[str, str, str], BanRecord] = {}

    async def ban(
        self, project_id: str, room: str, identity: str, *, reason: str = "", by: str = ""
    ) -> BanRecord:
        """Ban ``identity`` from ``room`` and revoke its tokens for it."""
        record = BanRecord(project_id, room, identity, self.ctx.now(), reason, by)
        self._bans[(project_id, room, identity)] = record
        await self.revocations.revoke(project_id, identity=identity, room=room, reason="banned")
        return record

    async def lift(self, project_id: str, room: str, identity: str) -> BanRecord:
        """Lift a ban; raises NotFoundError when there is none."""
        record = self._bans.pop((project_id, room, identity), None)
        if record is None:
            raise NotFoundError(f"{identity!r} is not banned from {room!r}", resource="ban")
        return record

    def is_banned(self, project_id: str, room: str, identity: str) -> bool:
        """Whether ``identity`` is banned from ``room`` (memory only)."""
        return (project_id, room, identity) in self._bans

    async def list(self, project_id: str, room: str | None = None) -> list[BanRecord]:
        """The project's bans (of one room if named)."""
        return [
            b for b in self._bans.values() if b.project_id == project_id and room in (None, b.room)
        ]
