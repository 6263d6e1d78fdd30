"""A participant's session in a room: waiting in the lobby, admitted, or ended (and why)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from roomkey.grants import Grant, Source


class SessionStatus(StrEnum):
    """Where a session stands. Only ``waiting`` and ``admitted`` are live."""

    WAITING = "waiting"
    ADMITTED = "admitted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # a knock nobody answered in time
    LEFT = "left"
    REMOVED = "removed"
    REPLACED = "replaced"  # the same identity joined again

    @property
    def live(self) -> bool:
        """True while the session waits or takes part."""
        return self in (SessionStatus.WAITING, SessionStatus.ADMITTED)


@dataclass(eq=False)
class Session:
    """One join of one identity in one room of one project (mutable: it lives and ends)."""

    id: str
    project_id: str
    room: str
    identity: str
    grant: Grant
    dialect: str
    status: SessionStatus
    created_at: float
    # the participant token it joined with (checked once, here: the seed's rule)
    token_jti: str | None = None
    token_kid: str = ""
    token_issued_at: int | None = None
    token_expires_at: int | None = None
    name: str | None = None
    role: str | None = None
    metadata: Any = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    joined_at: float | None = None
    ended_at: float | None = None
    # why it ended (``rejected``, ``banned``, ``revoked``, ``replaced``, ...), or a knock's note
    reason: str | None = None
    # sources a moderator muted; unmuting is the participant's own choice
    muted: frozenset[Source] = frozenset()
    # WebSockets attached now (a session with none for longer than the grace period ends)
    sockets: int = 0
    last_seen: float = 0.0

    @property
    def live(self) -> bool:
        """True while the session waits or takes part."""
        return self.status.live

    def may_admit(self, admit_policy: str = "direct") -> bool:
        """Whether this (admitted) session may admit or reject knocks.

        ``direct`` (the seed's rule): holders of ``join: direct``; ``moderators``: those who
        moderate; ``admins``: admins only.
        """
        if self.status is not SessionStatus.ADMITTED:
            return False
        if admit_policy == "admins":
            return self.grant.admin
        if admit_policy == "moderators":
            return self.grant.moderate
        return self.grant.join.value == "direct"

    def public(self) -> dict[str, Any]:
        """What other participants see of it."""
        return {
            "session_id": self.id,
            "identity": self.identity,
            "name": self.name,
            "role": self.role,
            "grant": self.grant.to_dict(),
            "joined_at": self.joined_at,
            "muted": sorted(s.value for s in self.muted),
        }
