"""What the admission service answers: a join's outcome, a refresh, a session's own view."""

from __future__ import annotations

from dataclasses import dataclass

from roomkey.minting import MintedToken
from roomkey.service.admission.sessions import Session


@dataclass(frozen=True, slots=True)
class JoinOutcome:
    """The answer to a join: admitted (with the room) or waiting (with a lobby position)."""

    session: Session
    session_token: str
    position: int | None = None
    # the first JOIN_PARTICIPANTS_MAX participants it may see (a JSON array), and how many it
    # may see in all
    participants: bytes = b"[]"
    participants_total: int = 0
    participant_token: MintedToken | None = None

    @property
    def status(self) -> str:
        """``admitted`` or ``waiting``."""
        return self.session.status.value


@dataclass(frozen=True, slots=True)
class Refreshed:
    """A refresh: a new session credential and participant token(s) with the current grant."""

    session: Session
    session_token: str
    session_expires_at: int
    token: MintedToken
    participant_token: MintedToken | None = None


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session as its holder sees it."""

    session: Session
    position: int | None = None
    participant_token: MintedToken | None = None
