"""What the admission service answers: a join's outcome, a refresh, a session's own view; and
the tokens in a node's answer to another node (with several nodes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from roomkey.claims import Claims
from roomkey.grants import Grant
from roomkey.minting import MintedToken
from roomkey.roles import merge_overrides
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


def token_json(minted: MintedToken | None) -> dict[str, Any] | None:
    """A minted token as a node answers it (its claims with it)."""
    if minted is None:
        return None
    return {
        "token": minted.token,
        "claims": minted.claims.to_dict(),
        "dialect": minted.dialect,
        "kid": minted.kid,
    }


def token_of(data: dict[str, Any] | None) -> MintedToken | None:
    """A minted token from a node's answer."""
    if data is None:
        return None
    claims = dict(data["claims"])
    claims["grant"] = merge_overrides(Grant(), claims["grant"])
    return MintedToken(data["token"], Claims(**claims), data["dialect"], data["kid"])


def tokens_from(answer: dict[str, Any]) -> tuple[MintedToken, MintedToken | None]:
    """The (own token, platform token) of an answer to ``update`` or ``refresh``."""
    token = token_of(answer["token"])
    assert token is not None
    return token, token_of(answer.get("participant_token"))
