"""Attacks with a genuine signature: hostile claims, replay elsewhere, revocation (steps 7–8).

Every token here is signed with the real key, so each refusal comes from the claim checks alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from attack_support import (
    API_KEY,
    NOW,
    assert_rejected,
    forge,
    hs_header,
    livekit_payload,
    native_payload,
)

from roomkey.keys import Ed25519Key, HmacKey
from roomkey.minting import MintedToken, TokenMinter
from roomkey.revocation import InMemoryRevocations
from roomkey.verifying import TokenVerifier


def _native(hmac_key: HmacKey, **changes: Any) -> str:
    return forge(hs_header(), native_payload(**changes), key=hmac_key)


def _livekit(hmac_key: HmacKey, **changes: Any) -> str:
    return forge(hs_header(None), livekit_payload(**changes), key=hmac_key)


@pytest.fixture
def minted(hmac_key: HmacKey) -> MintedToken:
    return TokenMinter(hmac_key, now=lambda: NOW).mint(identity="alice", room="standup")


# ---- time claims ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["9999999999", str(NOW + 900), "", True, False, None, [NOW + 900], {"t": NOW}, 2**60, -(2**60)],
    ids=["str-far", "str-now", "empty", "true", "false", "null", "list", "object", "huge", "-huge"],
)
@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_time_claims_of_the_wrong_type_are_refused(
    verifier: TokenVerifier, hmac_key: HmacKey, claim: str, value: Any
) -> None:
    """Type confusion in NumericDate claims: a string, boolean, null, list or out-of-range
    number is never coerced (``exp: true`` is 1 in Python, ``"9999999999"`` sorts as a
    string)."""
    assert_rejected(verifier, _native(hmac_key, **{claim: value}), "invalid_claims")


def test_livekit_exp_as_a_string_is_refused(verifier: TokenVerifier, hmac_key: HmacKey) -> None:
    """Type confusion in LiveKit's layout (its Go server would refuse it too)."""
    assert_rejected(verifier, _livekit(hmac_key, exp="9999999999"), "invalid_claims")


@pytest.mark.parametrize("layout", ["native", "livekit"])
def test_missing_exp_is_refused(verifier: TokenVerifier, hmac_key: HmacKey, layout: str) -> None:
    """A token without ``exp`` would live for ever."""
    token = _native(hmac_key, exp=...) if layout == "native" else _livekit(hmac_key, exp=...)
    error = assert_rejected(verifier, token, "missing_claim")
    assert error.details["claim"] == "exp"


def test_expired_beyond_leeway_is_refused_and_within_leeway_passes(
    verifier: TokenVerifier, hmac_key: HmacKey
) -> None:
    """Replay after expiry: 61 s past ``exp`` is refused, 59 s past is within the 60 s leeway."""
    token = _native(hmac_key, iat=NOW - 900, nbf=NOW - 900, exp=NOW)
    assert verifier.verify(token, now=NOW + 59).claims.expires_at == NOW
    error = assert_rejected(verifier, token, "expired", now=NOW + 61)
    assert error.details["expired_at"] == NOW
    assert_rejected(verifier, token, "expired", now=NOW + 60)  # exactly at the edge: refused


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_token_from_the_future_is_refused(
    verifier: TokenVerifier, hmac_key: HmacKey, claim: str
) -> None:
    """Pre-issued tokens: ``nbf``/``iat`` ahead of the clock beyond the leeway."""
    later = _native(hmac_key, **{claim: NOW + 61})
    error = assert_rejected(verifier, later, "not_yet_valid")
    assert error.details["claim"] == claim
    assert verifier.verify(_native(hmac_key, **{claim: NOW + 59})).claims.identity == "alice"


@pytest.mark.parametrize("layout", ["native", "livekit"])
def test_lifetime_beyond_the_maximum_is_refused(
    verifier: TokenVerifier, hmac_key: HmacKey, layout: str
) -> None:
    """Long-lived tokens (a leaked token useful for years): at most 24 h by default."""
    make = _native if layout == "native" else _livekit
    assert_rejected(verifier, make(hmac_key, exp=NOW + 24 * 3600 + 61), "lifetime_too_long")
    assert_rejected(verifier, make(hmac_key, exp=NOW + 10**9), "lifetime_too_long")
    assert verifier.verify(make(hmac_key, exp=NOW + 24 * 3600)).claims.identity == "alice"


# ---- replay in another room, for another participant, or for another purpose ---------------


@pytest.mark.parametrize(
    "room",
    [
        "Standup",
        "STANDUP",
        "standup ",
        " standup",
        "standup\u200b",
        "ｓｔａｎｄｕｐ",
        "standup/..",
        "",
    ],
)
def test_genuine_token_for_another_room_is_refused(
    verifier: TokenVerifier, minted: MintedToken, room: str
) -> None:
    """Room confusion: rooms are compared exactly (no case folding, trimming or NFKC)."""
    assert_rejected(verifier, minted.token, "wrong_room", room=room)


def test_token_bound_to_no_room_is_refused_where_a_room_is_required(
    verifier: TokenVerifier, hmac_key: HmacKey
) -> None:
    """An unbound token is not a wildcard when the caller names a room."""
    token = _native(hmac_key, room=...)
    assert_rejected(verifier, token, "wrong_room", room="standup")


@pytest.mark.parametrize("identity", ["Alice", "alice ", "alice\u200b", "bob", "ａｌｉｃｅ", ""])
def test_genuine_token_for_another_identity_is_refused(
    verifier: TokenVerifier, minted: MintedToken, identity: str
) -> None:
    """Identity confusion: the participant identity is compared exactly."""
    assert_rejected(verifier, minted.token, "wrong_identity", identity=identity)


def test_room_token_used_for_the_api_and_api_token_used_to_join_are_refused(
    verifier: TokenVerifier, hmac_key: HmacKey, minted: MintedToken
) -> None:
    """Token-kind confusion: a participant token on the server API, an API token in a room."""
    assert_rejected(verifier, minted.token, "wrong_scope", scope="api")
    api = TokenMinter(hmac_key, now=lambda: NOW).mint(permissions={"scope": ["api"]})
    assert verifier.verify(api.token, scope="api").claims.identity is None
    assert_rejected(verifier, api.token, "wrong_scope", scope="room")


def test_room_token_without_identity_is_refused(verifier: TokenVerifier, hmac_key: HmacKey) -> None:
    """An anonymous room token cannot be bound to a participant."""
    assert_rejected(verifier, _native(hmac_key, sub=...), "missing_claim")
    assert_rejected(verifier, _livekit(hmac_key, sub=""), "missing_claim")


@pytest.mark.parametrize("sub", ["alice\x00", "alice\n", "\u202ealice", "ali\x1bce"])
def test_identity_with_control_characters_is_refused(
    verifier: TokenVerifier, hmac_key: HmacKey, sub: str
) -> None:
    """Log injection and display spoofing through ``sub`` (NUL, newline, RTL override, ESC)."""
    assert_rejected(verifier, _native(hmac_key, sub=sub), "invalid_claims")


def test_audience_mismatch_is_refused(verifier: TokenVerifier, hmac_key: HmacKey) -> None:
    """Audience confusion: a token for another service, or none where one is required."""
    assert_rejected(verifier, _native(hmac_key, aud="other-service"), "wrong_audience")
    strict = TokenVerifier(verifier.keys, audience="media", now=lambda: NOW)
    assert_rejected(strict, _native(hmac_key), "wrong_audience")
    assert_rejected(strict, _native(hmac_key, aud="Media"), "wrong_audience")
    assert strict.verify(_native(hmac_key, aud="media")).claims.audience == "media"


def test_native_token_without_jti_is_refused(verifier: TokenVerifier, hmac_key: HmacKey) -> None:
    """A native token without ``jti`` could not be revoked individually."""
    assert_rejected(verifier, _native(hmac_key, jti=...), "missing_claim")


def test_dialect_not_accepted_here_is_refused(hmac_key: HmacKey, ring: Any) -> None:
    """Format confusion: a verifier for native tokens only refuses a genuine LiveKit token."""
    native_only = TokenVerifier(ring, dialects=["native"], now=lambda: NOW)
    assert_rejected(native_only, _livekit(hmac_key), "invalid_claims")


# ---- grant type confusion ------------------------------------------------------------------


def _grant(**changes: Any) -> dict[str, Any]:
    grant = dict(native_payload()["grant"])
    grant.update(changes)
    return grant


GRANT_CONFUSION: dict[str, tuple[dict[str, Any], str]] = {
    "livekit video is a string": ({"video": "roomJoin"}, "invalid_claims"),
    "livekit video is a list": ({"video": ["roomJoin"]}, "invalid_claims"),
    "livekit video is null": ({"video": None}, "invalid_claims"),
    "livekit roomJoin is a string": ({"video": {"roomJoin": "true"}}, "invalid_claims"),
    "livekit canPublish is 1": (
        {"video": {"roomJoin": True, "room": "standup", "canPublish": 1}},
        "invalid_claims",
    ),
    "livekit sources is a bool": (
        {"video": {"roomJoin": True, "room": "standup", "canPublishSources": True}},
        "invalid_claims",
    ),
    "livekit room is a list": (
        {"video": {"roomJoin": True, "room": ["standup"]}},
        "invalid_claims",
    ),
    "livekit attributes not strings": ({"attributes": {"a": 1}}, "invalid_claims"),
    "livekit metadata is an object": ({"metadata": {"role": "admin"}}, "invalid_claims"),
}


@pytest.mark.parametrize(("changes", "code"), GRANT_CONFUSION.values(), ids=GRANT_CONFUSION.keys())
def test_livekit_grant_type_confusion_is_refused(
    verifier: TokenVerifier, hmac_key: HmacKey, changes: dict[str, Any], code: str
) -> None:
    """Type confusion in LiveKit's ``video`` grant: a string, list or null where an object is
    expected, bools where lists are expected, numbers where bools are: default deny."""
    assert_rejected(verifier, _livekit(hmac_key, **changes), code)


NATIVE_CONFUSION: dict[str, dict[str, Any]] = {
    "grant is a list": {"grant": ["admin"]},
    "grant is a string": {"grant": "admin"},
    "admin is a string": {"grant": _grant(admin="false")},
    "admin is 1": {"grant": _grant(admin=1, moderate=1)},
    "sources is a string": {"grant": _grant(sources="cam")},
    "sources is a bool": {"grant": _grant(sources=True)},
    "scope is a string": {"grant": _grant(scope="room")},
    "join is a list": {"grant": _grant(join=["direct"])},
    "unknown source": {"grant": _grant(sources=["cam", "everything"])},
    "ask join with moderate": {"grant": _grant(join="ask", moderate=True)},
    "produce without sources": {"grant": _grant(sources=[])},
    "empty scope": {"grant": _grant(scope=[])},
    "version 2": {"rk": 2},
    "room is a number": {"room": 1},
    "attributes not strings": {"attributes": {"a": True}},
}


@pytest.mark.parametrize("changes", NATIVE_CONFUSION.values(), ids=NATIVE_CONFUSION.keys())
def test_native_grant_type_confusion_is_refused(
    verifier: TokenVerifier, hmac_key: HmacKey, changes: dict[str, Any]
) -> None:
    """Type and consistency confusion in the native grant: never coerced, never defaulted."""
    assert_rejected(verifier, _native(hmac_key, **changes), "invalid_claims")


def test_native_grant_missing_a_field_is_refused(
    verifier: TokenVerifier, hmac_key: HmacKey
) -> None:
    """Default deny: a native grant must spell out every field; none is assumed."""
    grant = _grant()
    del grant["admin"]
    assert_rejected(verifier, _native(hmac_key, grant=grant), "missing_claim")
    assert_rejected(verifier, _native(hmac_key, grant=...), "missing_claim")


VIDEOSDK_CONFUSION: dict[str, dict[str, Any]] = {
    "permissions is a string": {"permissions": "allow_join"},
    "roles is a string": {"roles": "rtc"},
    "ask_join with allow_mod": {"permissions": ["ask_join", "allow_mod"]},
    "no way to join": {"permissions": ["allow_everything"]},
    "version 3": {"version": 3},
}


@pytest.mark.parametrize("changes", VIDEOSDK_CONFUSION.values(), ids=VIDEOSDK_CONFUSION.keys())
def test_videosdk_permission_confusion_is_refused(
    verifier: TokenVerifier, hmac_key: HmacKey, changes: dict[str, Any]
) -> None:
    """Type and contradiction confusion in VideoSDK's ``permissions``/``roles``."""
    payload = {
        "apikey": API_KEY,
        "permissions": ["allow_join"],
        "version": 2,
        "roomId": "standup",
        "participantId": "alice",
        "roles": ["rtc"],
        "iat": NOW,
        "exp": NOW + 900,
        **changes,
    }
    assert_rejected(verifier, forge(hs_header(None), payload, key=hmac_key), "invalid_claims")


@pytest.mark.parametrize(
    "permissions",
    [{"canProduceSources": ["cam"]}, {"admin": "true"}, {"canConsume": None, "canProduce": 0}],
    ids=["sources-list", "admin-string", "numbers"],
)
def test_huddle01_permission_confusion_is_refused(
    verifier: TokenVerifier, ed_key: Ed25519Key, permissions: dict[str, Any]
) -> None:
    """Type confusion in Huddle01's ``permissions`` object."""
    payload = {
        "iss": API_KEY,
        "roomId": "standup",
        "peerId": "alice",
        "role": "guest",
        "permissions": permissions,
        "iat": NOW,
        "exp": NOW + 900,
    }
    header = {"alg": "EdDSA", "typ": "JWT", "kid": ed_key.kid}
    assert_rejected(verifier, forge(header, payload, key=ed_key), "invalid_claims")


@pytest.mark.parametrize(
    ("smuggled", "claim"),
    [
        ({"video": {"roomJoin": True, "roomAdmin": True}}, "video"),
        ({"admin": True}, "admin"),
        ({"permissions": {"admin": True}}, "permissions"),
    ],
    ids=["livekit-grant", "top-level-admin", "huddle01-permissions"],
)
def test_a_native_token_smuggling_another_claim_is_refused(
    verifier: TokenVerifier, hmac_key: HmacKey, smuggled: dict[str, Any], claim: str
) -> None:
    """Claim confusion: a claim outside the native format (another format's grant, say) is one
    some downstream reader may honour; roomkey's own format refuses it and names it."""
    error = assert_rejected(verifier, _native(hmac_key, **smuggled), "invalid_claims")
    assert error.details == {"claim": claim}


def test_an_unknown_native_grant_field_is_refused(
    verifier: TokenVerifier, hmac_key: HmacKey
) -> None:
    grant = {**native_payload()["grant"], "roomAdmin": True}
    error = assert_rejected(verifier, _native(hmac_key, grant=grant), "invalid_claims")
    assert error.details == {"claim": "grant.roomAdmin"}


def test_other_formats_keep_unknown_claims_as_warnings(
    verifier: TokenVerifier, hmac_key: HmacKey, ed_key: Ed25519Key
) -> None:
    """LiveKit, VideoSDK and Huddle01 tokens carry what their own servers add: reported."""
    verified = verifier.verify(_livekit(hmac_key, extra=1), room="standup", identity="alice")
    assert verified.unknown_keys == ("extra",)
    payload = {"iss": API_KEY, "roomId": "standup", "peerId": "alice", "exp": NOW + 900, "x": 1}
    header = {"alg": "EdDSA", "typ": "JWT", "kid": ed_key.kid}
    assert verifier.verify(forge(header, payload, key=ed_key)).unknown_keys == ("x",)


# ---- revocation ----------------------------------------------------------------------------


def test_revoked_jti_is_refused(
    verifier: TokenVerifier, revocations: InMemoryRevocations, minted: MintedToken
) -> None:
    """Replay of a revoked token (by its ``jti``)."""
    assert minted.claims.jti is not None
    revocations.revoke_jti(minted.claims.jti, now=NOW)
    error = assert_rejected(verifier, minted.token, "revoked")
    assert error.details["rule"] == "jti"


@pytest.mark.parametrize("kind", ["identity", "identity-in-room", "room", "key", "issued_before"])
def test_tokens_covered_by_a_revocation_rule_are_refused(
    verifier: TokenVerifier,
    revocations: InMemoryRevocations,
    minted: MintedToken,
    kind: str,
) -> None:
    """A removed participant, a closed room or a compromised key: every token issued up to the
    rule is refused."""
    if kind == "identity":
        revocations.revoke_identity("alice", now=NOW)
    elif kind == "identity-in-room":
        revocations.revoke_identity("alice", room="standup", now=NOW)
    elif kind == "room":
        revocations.revoke_room("standup", now=NOW)
    elif kind == "key":
        revocations.revoke_key(API_KEY, now=NOW)
    else:
        revocations.revoke_issued_before(NOW + 1, now=NOW)
    error = assert_rejected(verifier, minted.token, "revoked")
    assert error.details["rule"] == kind.split("-")[0]


def test_revocation_in_another_room_does_not_refuse(
    verifier: TokenVerifier, revocations: InMemoryRevocations, minted: MintedToken
) -> None:
    """Control: rules for another identity, room or key leave this token alone."""
    revocations.revoke_identity("alice", room="boardroom", now=NOW)
    revocations.revoke_identity("bob", now=NOW)
    revocations.revoke_room("boardroom", now=NOW)
    revocations.revoke_key("APIkey2", now=NOW)
    assert verifier.verify(minted.token).claims.identity == "alice"
