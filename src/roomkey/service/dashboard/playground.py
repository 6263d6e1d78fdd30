"""The token playground and the room page's watch credential: tokens the dashboard mints.

Both go through the ordinary issuing path (:meth:`TokenService.issue`: the caller's rights,
bans, rooms, the project's TTL bound) and are audited like any other token, under their own
endpoint names (``dashboard:playground``, ``dashboard:watch``) so the audit log tells them
apart. Playground tokens are temporary: their lifetime is capped at
:data:`PLAYGROUND_MAX_TTL_S`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from roomkey import jws
from roomkey.capabilities import Capability
from roomkey.grants import Scope
from roomkey.service.auth import Caller
from roomkey.service.dashboard.words import grant_words
from roomkey.service.tokens import TokenRequest, TokenService

PLAYGROUND_ENDPOINT = "dashboard:playground"
WATCH_ENDPOINT = "dashboard:watch"
PLAYGROUND_DEFAULT_TTL_S = 600
PLAYGROUND_MAX_TTL_S = 3600
WATCH_TTL_S = 60


@dataclass(frozen=True, slots=True)
class PlaygroundToken:
    """A temporary token and what it says."""

    token: str
    dialect: str
    jti: str
    expires_at: int
    ttl_s: int
    # the TTL asked for was longer than the playground allows
    capped: bool
    header: str
    payload: str
    grant: list[str]


class Playground:
    """Mints the dashboard's tokens (see the module docstring)."""

    def __init__(self, tokens: TokenService) -> None:
        self.tokens = tokens

    async def mint(self, caller: Caller, request: TokenRequest) -> PlaygroundToken:
        """A temporary token as ``request`` asks, its TTL capped; audited.

        Raises whatever issuing raises (a right the caller lacks, a banned identity, an
        unknown room where rooms are not created on use, a grant the format cannot carry).
        """
        settings = self.tokens.ctx.project(caller.project_id).record.settings
        asked = request.ttl_s or PLAYGROUND_DEFAULT_TTL_S
        ttl = min(asked, PLAYGROUND_MAX_TTL_S, settings.max_ttl_s)
        minted = await self.tokens.issue(
            caller, dataclasses.replace(request, ttl_s=ttl), PLAYGROUND_ENDPOINT
        )
        parsed = jws.parse(minted.token, len(minted.token) + 1)
        return PlaygroundToken(
            token=minted.token,
            dialect=minted.dialect,
            jti=minted.claims.jti or "",
            expires_at=minted.claims.expires_at or 0,
            ttl_s=ttl,
            capped=asked > ttl,
            header=json.dumps(parsed.header, indent=2, ensure_ascii=False),
            payload=json.dumps(parsed.payload, indent=2, ensure_ascii=False),
            grant=grant_words(minted.claims.grant),
        )

    async def watch_token(self, caller: Caller, room: str) -> str:
        """A one-minute server token that may only watch and moderate ``room`` (the room
        page's WebSocket credential, handed to the page's script, never put in a URL).

        The caller must hold ``rooms:moderate`` for the room (ForbiddenError otherwise).
        """
        caller.require(Capability.ROOMS_MODERATE, room=room)
        request = TokenRequest(
            identity=f"{caller.identity or 'dashboard'}:watch",
            room=room,
            dialect="native",
            permissions={
                "scope": [Scope.API.value],
                "capabilities": [Capability.ROOMS_MODERATE.value],
            },
            ttl_s=WATCH_TTL_S,
        )
        minted = await self.tokens.issue(caller, request, WATCH_ENDPOINT)
        return minted.token
