"""Interop with PyJWT: it verifies every roomkey token; roomkey verifies what it mints.

Includes the VideoSDK seed's ``jsonwebtoken`` examples, replicated with PyJWT (same header, same
payload, ``iat`` added and ``exp`` computed from ``expiresIn`` as jsonwebtoken does).
"""

from __future__ import annotations

import uuid
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from interop_support import (
    API_KEY,
    ASYMMETRIC,
    ASYMMETRIC_ALGS,
    HS256_DIALECTS,
    NOW,
    SECRET,
    hmac_ring,
    mint_now,
)

from roomkey import jws
from roomkey.capabilities import CRAWLER_CAPABILITIES, Capability
from roomkey.dialects import DIALECTS
from roomkey.errors import MalformedTokenError
from roomkey.grants import ALL_SOURCES, Grant, JoinMode, Scope, Source
from roomkey.keys import KeyRing
from roomkey.roles import PRESETS, Role
from roomkey.verifying import TokenVerifier

SETTINGS = settings(max_examples=200, deadline=None)
# Roles each HS256 dialect can carry as they are (VideoSDK only has all-media participants).
ROLES = {
    "native": list(Role),
    "livekit": [r for r in Role if PRESETS[r].can_recv_data],
    "videosdk": [Role.HOST, Role.CO_HOST, Role.GUEST],
}
CASES = [(d, r) for d in HS256_DIALECTS for r in ROLES[d]]


@pytest.mark.parametrize(("dialect", "role"), CASES)
def test_pyjwt_verifies_every_hs256_roomkey_token(dialect: str, role: Role) -> None:
    minted = mint_now(dialect, identity="alice", room="standup", role=role)
    decoded = jwt.decode(minted.token, SECRET, algorithms=["HS256"], options={"verify_aud": False})
    assert decoded == DIALECTS[dialect].to_wire(minted.claims)
    header = jwt.get_unverified_header(minted.token)
    assert header == {
        "alg": "HS256",
        "typ": "JWT",
        **({"kid": API_KEY} if dialect == "native" else {}),
    }


def test_pyjwt_checks_the_native_audience() -> None:
    minted = mint_now("native", identity="alice", room="standup", audience="media-eu")
    assert jwt.decode(minted.token, SECRET, algorithms=["HS256"], audience="media-eu")["aud"] == (
        "media-eu"
    )
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(minted.token, SECRET, algorithms=["HS256"], audience="media-us")


def test_pyjwt_refuses_a_roomkey_token_under_another_secret() -> None:
    minted = mint_now("native", identity="alice", room="standup")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(minted.token, SECRET + "-other", algorithms=["HS256"])


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
@pytest.mark.parametrize("dialect", ["native", "huddle01"])
def test_pyjwt_verifies_asymmetric_tokens_with_the_public_pem(alg: str, dialect: str) -> None:
    key = ASYMMETRIC[alg]
    minted = mint_now(dialect, key, identity="alice", room="standup", role=Role.SPEAKER)
    decoded = jwt.decode(minted.token, key.public_pem(), algorithms=[alg])
    assert decoded == DIALECTS[dialect].to_wire(minted.claims)
    assert jwt.get_unverified_header(minted.token)["kid"] == key.kid
    other = ASYMMETRIC["ES256" if alg != "ES256" else "RS256"]
    with pytest.raises(jwt.PyJWTError):
        jwt.decode(minted.token, other.public_pem(), algorithms=[alg])


# ---- the VideoSDK seeds' jsonwebtoken examples, made with PyJWT ------------------------------


def _verify_at(token: str, now: float, **kw: Any) -> Any:
    return TokenVerifier(hmac_ring(), now=lambda: now).verify(token, **kw)


def test_the_seed_v2_token_verifies_in_roomkey() -> None:
    iat = NOW
    payload = {
        "apikey": API_KEY,
        "permissions": ["allow_join"],
        "version": 2,
        "roomId": "2kyv-gzay-64pg",
        "participantId": "lxvdplwt",
        "roles": ["crawler", "rtc"],
        "iat": iat,
        "exp": iat + 120 * 60,  # expiresIn: '120m'
    }
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    verified = _verify_at(token, NOW + 60, room="2kyv-gzay-64pg", identity="lxvdplwt")
    assert verified.dialect == "videosdk"
    assert verified.unknown_keys == ()
    assert verified.grant == Grant(scope=frozenset(Scope), capabilities=CRAWLER_CAPABILITIES)
    assert _verify_at(token, NOW + 60, scope="api").claims.identity == "lxvdplwt"


def test_the_seed_minimal_token_with_a_uuid_jti_verifies_in_roomkey() -> None:
    jti = str(uuid.UUID(int=7))
    payload = {
        "apikey": API_KEY,
        "permissions": ["allow_join"],
        "iat": NOW,
        "exp": NOW + 24 * 3600,  # expiresIn: '24h'
        "jti": jti,
    }
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    verified = _verify_at(token, NOW, scope="api")
    assert (verified.claims.jti, verified.claims.identity, verified.claims.room) == (
        jti,
        None,
        None,
    )
    assert verified.grant.join is JoinMode.DIRECT and not verified.grant.moderate


def test_roomkey_videosdk_tokens_match_the_seed_payload_field_for_field() -> None:
    minted = mint_now("videosdk", identity="lxvdplwt", room="2kyv-gzay-64pg", role=Role.GUEST)
    decoded = jwt.decode(minted.token, SECRET, algorithms=["HS256"])
    assert list(decoded) == [
        "apikey",
        "permissions",
        "version",
        "roomId",
        "participantId",
        "roles",
        "iat",
        "exp",
        "jti",
    ]
    assert decoded["apikey"] == API_KEY
    assert decoded["permissions"] == ["allow_join"]
    assert decoded["version"] == 2
    assert (decoded["roomId"], decoded["participantId"]) == ("2kyv-gzay-64pg", "lxvdplwt")
    assert decoded["roles"] == ["rtc"]
    assert decoded["exp"] - decoded["iat"] == 15 * 60
    assert isinstance(decoded["jti"], str) and len(decoded["jti"]) >= 16


# ---- PyJWT-minted claim sets in each dialect's layout verify in roomkey ----------------------

texts = st.text(st.characters(exclude_categories=("C", "Z")), min_size=1, max_size=16)
times = st.tuples(st.integers(0, 600), st.integers(0, 600), st.integers(1, 3600))
int64 = st.integers(-(2**63), 2**64 - 1)


@st.composite
def native_case(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], Grant]:
    produce = draw(st.booleans())
    sources = draw(st.frozensets(st.sampled_from(Source), min_size=1)) if produce else frozenset()
    admin = draw(st.booleans())
    moderate = admin or draw(st.booleans())
    flags = {
        f: draw(st.booleans())
        for f in ("can_consume", "can_send_data", "can_recv_data", "can_update_metadata")
    }
    flags.update(hidden=draw(st.booleans()), recorder=draw(st.booleans()))
    join = "direct" if moderate else draw(st.sampled_from(["direct", "ask"]))
    scope = draw(st.sampled_from([["room"], ["api"], ["room", "api"], ["api", "room"]]))
    raw = {
        "admin": admin,
        "can_produce": produce,
        "sources": draw(st.permutations(sorted(sources))),
        "join": join,
        "moderate": moderate,
        "scope": scope,
        **flags,
    }
    grant = Grant(**{**raw, "sources": sources, "moderate": moderate})
    extra = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "name": texts,
                "role": texts,
                # integers a 64-bit reader keeps exact (wider ones are refused: see below)
                "metadata": st.dictionaries(texts, int64 | texts, max_size=2),
                "attributes": st.dictionaries(texts, texts, max_size=2),
                "room_config": st.dictionaries(texts, st.booleans(), max_size=2),
                "kind": texts,
            },
        )
    )
    body = {"rk": 1, "sub": draw(texts), "room": draw(texts), "jti": draw(texts), "grant": raw}
    return {**body, **extra}, {"kid": API_KEY}, grant


LK_NAMES = {"camera": Source.CAM, "microphone": Source.MIC, "screen_share": Source.SCREEN}
LK_NAMES["screen_share_audio"] = Source.SCREEN_AUDIO


@st.composite
def livekit_case(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], Grant]:
    """A LiveKit ``video`` grant with any flag set, unset or false, and the grant LiveKit gives."""
    opt = st.none() | st.booleans()
    flags = {
        k: draw(opt)
        for k in (
            "roomAdmin",
            "canPublish",
            "canSubscribe",
            "canPublishData",
            "canUpdateOwnMetadata",
            "hidden",
            "recorder",
            "roomList",
        )
    }
    listed = draw(st.none() | st.lists(st.sampled_from(sorted(LK_NAMES)), unique=True))
    video: dict[str, Any] = {k: v for k, v in flags.items() if v is not None}
    video.update({"roomJoin": True, "room": draw(texts)})
    if listed is not None:
        video["canPublishSources"] = listed
    publish = flags["canPublish"] is not False
    data = publish if flags["canPublishData"] is None else flags["canPublishData"]
    sources = frozenset(LK_NAMES[s] for s in listed or []) or ALL_SOURCES
    grant = Grant(
        admin=bool(flags["roomAdmin"]),
        can_consume=flags["canSubscribe"] is not False,
        can_produce=publish,
        sources=sources if publish else frozenset(),
        can_send_data=data,
        can_update_metadata=bool(flags["canUpdateOwnMetadata"]),
        hidden=bool(flags["hidden"]),
        recorder=bool(flags["recorder"]),
        scope=frozenset({Scope.ROOM, Scope.API} if flags["roomList"] else {Scope.ROOM}),
        capabilities=frozenset({Capability.ROOMS_READ} if flags["roomList"] else ()),
    )
    body = {"sub": draw(texts), "video": video}
    extra = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "name": texts,
                "metadata": texts,
                "attributes": st.dictionaries(texts, texts, max_size=2),
            },
        )
    )
    return {**body, **extra}, {}, grant


@st.composite
def videosdk_case(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], Grant]:
    permissions = draw(
        st.sampled_from(
            [["allow_join"], ["ask_join"], ["allow_mod"], ["allow_join", "allow_mod"]]
        ).flatmap(st.permutations)
    )
    roles = draw(st.none() | st.sampled_from([["rtc"], ["crawler"], ["crawler", "rtc"]]))
    body: dict[str, Any] = {"permissions": permissions, "participantId": draw(texts)}
    if roles is not None:
        body["roles"] = roles
    body.update(draw(st.fixed_dictionaries({}, optional={"version": st.just(2), "roomId": texts})))
    names = {"rtc": Scope.ROOM, "crawler": Scope.API}
    mod = "allow_mod" in permissions
    grant = Grant(
        admin=mod,
        join=JoinMode.ASK if "ask_join" in permissions else JoinMode.DIRECT,
        scope=frozenset(names[r] for r in roles) if roles else frozenset(Scope),
        capabilities=CRAWLER_CAPABILITIES if roles and "crawler" in roles else frozenset(),
    )
    return body, {}, grant


ISSUER_CLAIM = {"native": "iss", "livekit": "iss", "videosdk": "apikey"}
CASE_STRATEGIES = {"native": native_case(), "livekit": livekit_case(), "videosdk": videosdk_case()}


def _pyjwt_mint_and_verify(dialect: str, case: Any, offsets: tuple[int, int, int]) -> None:
    body, headers, grant = case
    before, start, ttl = offsets
    payload = {ISSUER_CLAIM[dialect]: API_KEY, "iat": NOW - before, "exp": NOW + ttl, **body}
    if dialect != "videosdk":
        payload["nbf"] = NOW - start
    token = jwt.encode(payload, SECRET, algorithm="HS256", headers=headers or None)
    verified = TokenVerifier(hmac_ring(), now=lambda: NOW).verify(
        token, scope=sorted(grant.scope)[-1]
    )
    assert verified.dialect == dialect
    assert verified.unknown_keys == ()
    assert verified.grant == grant
    claims = verified.claims
    assert (claims.api_key, claims.issued_at, claims.expires_at) == (
        API_KEY,
        NOW - before,
        NOW + ttl,
    )
    identity = body.get("sub", body.get("participantId"))
    assert claims.identity == identity
    assert claims.name == body.get("name")
    assert dict(claims.attributes) == body.get("attributes", {})


@SETTINGS
@given(native_case(), times)
def test_pyjwt_minted_native_tokens_verify_in_roomkey(case: Any, offsets: Any) -> None:
    _pyjwt_mint_and_verify("native", case, offsets)
    body = case[0]
    token_claims = {k: body.get(k) for k in ("role", "metadata", "kind", "room_config", "jti")}
    minted = jwt.encode(
        {"iss": API_KEY, "exp": NOW + 60, **body}, SECRET, algorithm="HS256", headers=case[1]
    )
    claims = TokenVerifier(hmac_ring(), now=lambda: NOW).verify_signature(minted).claims
    assert {k: getattr(claims, k) for k in token_claims} == token_claims


@SETTINGS
@given(livekit_case(), times)
def test_pyjwt_minted_livekit_tokens_verify_in_roomkey(case: Any, offsets: Any) -> None:
    _pyjwt_mint_and_verify("livekit", case, offsets)


@SETTINGS
@given(videosdk_case(), times)
def test_pyjwt_minted_videosdk_tokens_verify_in_roomkey(case: Any, offsets: Any) -> None:
    _pyjwt_mint_and_verify("videosdk", case, offsets)


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_pyjwt_minted_asymmetric_native_tokens_verify_in_roomkey(alg: str) -> None:
    key = ASYMMETRIC[alg]
    payload = {
        "rk": 1,
        "iss": API_KEY,
        "sub": "alice",
        "room": "standup",
        "jti": "j1",
        "iat": NOW,
        "exp": NOW + 60,
        "grant": PRESETS[Role.LISTENER].to_dict(),
    }
    token = jwt.encode(payload, key.private_pem(), algorithm=alg, headers={"kid": key.kid})
    verified = TokenVerifier(KeyRing([key]), now=lambda: NOW).verify(token, room="standup")
    assert (verified.alg, verified.grant) == (alg, PRESETS[Role.LISTENER])
    assert jws.parse(token).header["kid"] == key.kid


@pytest.mark.parametrize("number", [-(2**63) - 1, 2**64, 10**30])
def test_an_integer_no_64_bit_reader_keeps_exact_is_refused_not_rounded(number: int) -> None:
    # PyJWT (Python's json) writes any integer; read as a float it would silently change
    payload = {"rk": 1, "iss": API_KEY, "sub": "alice", "jti": "j1", "iat": NOW, "exp": NOW + 60}
    payload["metadata"] = {"n": number}
    token = jwt.encode(payload, SECRET, algorithm="HS256", headers={"kid": API_KEY})
    with pytest.raises(MalformedTokenError, match="64-bit"):
        TokenVerifier(hmac_ring(), now=lambda: NOW).verify(token)
