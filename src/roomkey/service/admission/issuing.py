"""Participant tokens minted for live sessions: the platform token on admission, a refreshed
token, the token that carries a permission change. All go through the project's
:class:`TokenService` (audited, within the project's TTLs, refused for a banned identity)."""

from __future__ import annotations

from typing import Any

from roomkey.capabilities import Capability
from roomkey.errors import NotFoundError, UnsupportedByDialectError
from roomkey.grants import Grant, JoinMode
from roomkey.minting import MintedToken
from roomkey.roles import lookup_preset
from roomkey.service.admission.rules import participant_grant
from roomkey.service.admission.sessions import Session
from roomkey.service.auth import Caller
from roomkey.service.state import ServerState
from roomkey.service.tokens import TokenRequest, TokenService

ENDPOINT = "admission"
# formats that carry a display name, metadata and attributes
_CARRY_PROFILE = ("native", "livekit", "huddle01")


class SessionTokens:
    """Mints participant tokens for sessions with the project's keys."""

    def __init__(self, tokens: TokenService, state: ServerState) -> None:
        self.tokens, self.state = tokens, state

    async def platform(self, session: Session, dialect: str) -> MintedToken:
        """The media server's token for an admitted session (join direct: it is admitted).

        LiveKit's only moderation flag is ``roomAdmin``, so moderation travels with admin.
        """
        grant = participant_grant(session.grant).replace(join=JoinMode.DIRECT)
        grant = grant.replace(moderate=grant.admin) if dialect == "livekit" else grant
        return await self._mint(session, dialect, grant)

    async def own(self, session: Session) -> MintedToken:
        """A token in the session's own format with its current grant (native when that format
        cannot express the grant, e.g. VideoSDK after a source was taken away)."""
        grant = participant_grant(session.grant)
        try:
            return await self._mint(session, session.dialect, grant)
        except UnsupportedByDialectError:
            return await self._mint(session, "native", grant)

    async def _mint(self, session: Session, dialect: str, grant: Grant) -> MintedToken:
        caller = Caller(
            session.project_id,
            self._kid(session, dialect),
            "admission",
            frozenset({Capability.TOKENS_ISSUE}),
        )
        request = TokenRequest(
            identity=session.identity,
            room=session.room,
            dialect=dialect,
            role=self._role(session),
            permissions=_permissions(grant),
            **_profile(session, dialect),
        )
        return await self.tokens.issue(caller, request, ENDPOINT)

    def _role(self, session: Session) -> str | None:
        """The session's role when it still names a preset or one of the project's roles."""
        role, project = session.role, self.state.projects.get(session.project_id)
        if role is None or project is None:
            return None
        return role if lookup_preset(role) is not None or role in project.roles else None

    def _kid(self, session: Session, dialect: str) -> str:
        """The session's own API key when it joined with one, else the project's first."""
        record = self.state.keys.get(session.token_kid)
        if record is not None and record.purpose == "api" and dialect != "huddle01":
            return record.kid
        for record in self.state.keys.values():
            if record.project_id == session.project_id and record.purpose == "api":
                return record.kid
        raise NotFoundError("the project has no active API key to mint with", resource="key")


def _permissions(grant: Grant) -> dict[str, Any]:
    out = grant.to_dict()
    if not out["capabilities"]:
        del out["capabilities"]
    return out


def _profile(session: Session, dialect: str) -> dict[str, Any]:
    if dialect not in _CARRY_PROFILE:
        return {}
    fields = {"name": session.name, "metadata": session.metadata}
    if session.attributes:
        fields["attributes"] = dict(session.attributes)
    return fields


__all__ = ["ENDPOINT", "SessionTokens"]
