"""Participant tokens of every format for the admission tests, made with the real third-party
libraries where the format is theirs: PyJWT for VideoSDK (as the seed's jsonwebtoken examples),
livekit-api's AccessToken for LiveKit; native with roomkey's builder, Huddle01 through the
service (its tokens are signed with the project's signing key)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
from livekit.api import AccessToken as LiveKitToken
from livekit.api import VideoGrants

from roomkey.minting import AccessToken
from roomkey.service import Bootstrap, RoomkeyService, TokenRequest
from roomkey.service.auth import Caller


def videosdk(
    boot: Bootstrap, now: float, room: str, identity: str, *perms: str, ttl: int = 600
) -> str:
    """VideoSDK's v2 token (``allow_join`` / ``ask_join`` / ``allow_mod``), signed by PyJWT."""
    payload = {
        "apikey": boot.api_key,
        "permissions": list(perms) or ["allow_join"],
        "version": 2,
        "roomId": room,
        "participantId": identity,
        "roles": ["rtc"],
        "iat": int(now),
        "exp": int(now) + ttl,
    }
    return jwt.encode(payload, boot.api_secret, algorithm="HS256")


def livekit(
    boot: Bootstrap, room: str, identity: str, *, admin: bool = False, ttl: int = 600
) -> str:
    """LiveKit's token made by livekit-api (it reads the machine's clock)."""
    grants = VideoGrants(room_join=True, room=room, room_admin=admin)
    token = LiveKitToken(boot.api_key, boot.api_secret).with_identity(identity)
    return token.with_grants(grants).with_ttl(timedelta(seconds=ttl)).to_jwt()


def native(
    boot: Bootstrap, now: float, room: str, identity: str, role: str = "guest", **perms: Any
) -> str:
    """roomkey's own format."""
    builder = AccessToken(boot.api_key, boot.api_secret, now=lambda: now)
    builder = builder.with_identity(identity).with_room(room).with_role(role)
    return (builder.with_permissions(**perms) if perms else builder).with_ttl(600).to_jwt()


async def huddle01(service: RoomkeyService, room: str, identity: str, role: str) -> str:
    """A Huddle01 peer token, signed with the project's signing key by the service."""
    boot = service.bootstrap
    assert boot is not None
    caller = Caller(boot.project_id, boot.api_key, "test", frozenset())
    request = TokenRequest(identity=identity, room=room, dialect="huddle01", role=role)
    return (await service.tokens.issue(caller, request, "test")).token
