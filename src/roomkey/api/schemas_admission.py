"""Request and response bodies of the admission routes (joining, the lobby, moderation,
sessions)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from roomkey.api.schemas import TOKEN_SIZE, Permissions, Strict, TokenPublic

SourceName = Literal["cam", "mic", "screen", "screen_audio"]


class JoinRequest(Strict):
    """The participant token (unless sent in ``Authorization``) and the project it belongs to."""

    token: str | None = Field(
        None, description="The participant token, if not in Authorization. " + TOKEN_SIZE
    )
    project: str | None = Field(
        None,
        max_length=256,
        description="The project the token must belong to; default the project of its key.",
    )


class ParticipantPublic(BaseModel):
    """An admitted participant as the room sees it."""

    session_id: str
    identity: str
    name: str | None = None
    role: str | None = None
    grant: dict[str, Any]
    joined_at: float | None = None
    muted: list[str] = []


class JoinPublic(BaseModel):
    """Admitted (200, with the room) or waiting in the lobby (202, with a position)."""

    status: Literal["admitted", "waiting"]
    session_id: str
    session_token: str = Field(
        ..., description="The session's credential (`rks1.`...): for actions, events, refresh."
    )
    position: int | None = Field(None, description="Place in the lobby, from 1 (waiting).")
    participant: ParticipantPublic | None = None
    participants: list[ParticipantPublic] | None = Field(
        None, description="The first 100 participants it may see, in joining order (admitted)."
    )
    participants_total: int | None = Field(
        None, description="How many participants it may see in all, itself included (admitted)."
    )
    participant_token: str | None = Field(
        None, description="The platform token, where the room or project hands one out."
    )


class KnockPublic(BaseModel):
    """A knock waiting in the lobby."""

    session_id: str
    identity: str
    name: str | None = None
    role: str | None = None
    knocked_at: float
    expires_at: float


class LobbyPublic(BaseModel):
    """The room's knocks, oldest first."""

    data: list[KnockPublic]


class ParticipantsPublic(BaseModel):
    """The room's admitted participants (hidden ones only for moderators)."""

    data: list[ParticipantPublic]


class DecisionRequest(Strict):
    """An optional reason for a rejection (the waiter sees it)."""

    reason: str | None = Field(None, max_length=200)


class SessionPublic(BaseModel):
    """A session's state, as its holder sees it."""

    session_id: str
    room: str
    identity: str
    status: str
    reason: str | None = None
    position: int | None = None
    participant_token: str | None = Field(
        None, description="The platform token, once admitted (where one is handed out)."
    )


class MuteRequest(Strict):
    """Which sources to mute (or to ask the participant to unmute)."""

    sources: list[SourceName] = Field(..., min_length=1)


class MutePublic(BaseModel):
    """The participant's muted sources after the request."""

    identity: str
    muted: list[str]
    requested: list[str] = Field([], description="Sources the participant was asked to unmute.")


class RemovePublic(BaseModel):
    """A removal: the session ended (if the identity was in the room) and whether it is banned."""

    identity: str
    session_id: str | None
    banned: bool


class PermissionsUpdate(Strict):
    """A new role (its preset or custom permissions) and/or permission overrides."""

    role: str | None = Field(None, min_length=1, max_length=20)
    permissions: Permissions | None = None


class PermissionsPublic(BaseModel):
    """The participant with its new grant, and the token that carries it."""

    participant: ParticipantPublic
    token: TokenPublic
    participant_token: str | None = None


class LockPublic(BaseModel):
    """The room's lock."""

    room: str
    locked: bool


class RefreshPublic(BaseModel):
    """A fresh session credential and participant token with the session's current grant."""

    session_token: str
    session_expires_at: int
    token: TokenPublic = Field(
        ..., description="In the session's own format (native if it cannot carry the grant)."
    )
    participant_token: str | None = Field(None, description="The platform token, if any.")
