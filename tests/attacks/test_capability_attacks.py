"""Attempts to get more rights than a token names, each with a genuine signature.

Whatever the format, a token's server-API capabilities are exactly those its format's documented
fields carry (capabilities.md); a smuggled or inconsistent field never adds one.
"""

from __future__ import annotations

from typing import Any

import pytest
from attack_support import API_KEY, NOW, forge, livekit_payload, native_payload

from roomkey.capabilities import CRAWLER_CAPABILITIES, Capability
from roomkey.errors import InvalidClaimsError, WrongScopeError
from roomkey.keys import HmacKey
from roomkey.service.auth import capabilities_of
from roomkey.verifying import TokenVerifier

HEADER = {"alg": "HS256", "typ": "JWT"}


def _native_grant(**changes: Any) -> dict[str, Any]:
    grant = dict(native_payload()["grant"])
    grant.update(changes)
    return grant


def _caps(verifier: TokenVerifier, token: str, scope: str = "api") -> frozenset[Capability]:
    return capabilities_of(verifier.verify(token, scope=scope, now=NOW))


@pytest.mark.parametrize(
    "grant",
    [
        _native_grant(capabilities=["admin"]),  # rights on the API without the api scope
        _native_grant(scope=["api"], capabilities="admin"),  # a string, not a list
        _native_grant(scope=["api"], capabilities=["admin", "root"]),  # unknown name
        _native_grant(scope=["api"], capabilities=[{"admin": True}]),
        _native_grant(scope=["api"], capabilities=[True]),
    ],
)
def test_native_capabilities_that_do_not_fit_the_grant_are_refused(
    verifier: TokenVerifier, hmac_key: HmacKey, grant: dict[str, Any]
) -> None:
    token = forge({**HEADER, "kid": API_KEY}, native_payload(grant=grant), key=hmac_key)
    with pytest.raises(InvalidClaimsError):
        verifier.verify(token, scope="api", now=NOW)


def test_a_native_room_token_is_no_server_token(verifier: TokenVerifier, hmac_key: HmacKey) -> None:
    token = forge({**HEADER, "kid": API_KEY}, native_payload(), key=hmac_key)
    with pytest.raises(WrongScopeError):
        verifier.verify(token, scope="api", now=NOW)


@pytest.mark.parametrize(
    "video",
    [
        {"roomRecord": True},
        {"ingressAdmin": True},
        {"roomRecord": True, "capabilities": ["admin"]},  # a smuggled key: a warning, no right
        {"roomRecord": True, "roomAdmin": True},  # roomAdmin without a room moderates nothing
        {"roomList": "true"},  # a string is not true
    ],
)
def test_livekit_grants_give_only_their_documented_capabilities(
    verifier: TokenVerifier, hmac_key: HmacKey, video: dict[str, Any]
) -> None:
    token = forge(HEADER, livekit_payload(video=video), key=hmac_key)
    try:
        caps = _caps(verifier, token)
    except InvalidClaimsError:
        return  # refused outright is fine too
    assert caps == frozenset()


def test_livekit_room_admin_moderates_its_room_only(
    verifier: TokenVerifier, hmac_key: HmacKey
) -> None:
    video = {"roomJoin": True, "roomAdmin": True, "room": "standup"}
    token = forge(HEADER, livekit_payload(video=video), key=hmac_key)
    assert _caps(verifier, token, scope="room") == {Capability.ROOMS_MODERATE}


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (None, frozenset()),
        ([], frozenset()),
        (["rtc"], frozenset()),
        (["crawler"], CRAWLER_CAPABILITIES),
        (["crawler", "admin"], CRAWLER_CAPABILITIES),  # an unknown role adds nothing
        (["crawler", "crawler"], CRAWLER_CAPABILITIES),
    ],
)
def test_videosdk_roles_give_at_most_the_crawler_set(
    verifier: TokenVerifier,
    hmac_key: HmacKey,
    roles: list[str] | None,
    expected: frozenset[Capability],
) -> None:
    payload: dict[str, Any] = {
        "apikey": API_KEY,
        "permissions": ["allow_join"],
        "participantId": "p1",
        "iat": NOW,
        "exp": NOW + 900,
    }
    if roles is not None:
        payload["roles"] = roles
    token = forge(HEADER, payload, key=hmac_key)
    scope = "api" if roles is None or not roles or "crawler" in roles else "room"
    assert _caps(verifier, token, scope=scope) == expected
    assert Capability.KEYS not in _caps(verifier, token, scope=scope)
