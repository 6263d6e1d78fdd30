"""Interop with joserfc: HS256 tokens with an ``OctKey``, asymmetric ones against the JWKS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
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
from joserfc import jwt
from joserfc.errors import BadSignatureError as JoseBadSignature
from joserfc.errors import InvalidKeyIdError, SecurityWarning
from joserfc.jwk import KeySet, OctKey, import_key

from roomkey.dialects import DIALECTS
from roomkey.keys import KeyRing
from roomkey.roles import PRESETS, Role
from roomkey.verifying import TokenVerifier

OCT = OctKey.import_key(SECRET)
KTY = {"EdDSA": "OKP", "ES256": "EC", "RS256": "RSA"}
ROLE_FOR = {"native": Role.SPEAKER, "livekit": Role.LISTENER, "videosdk": Role.HOST}


@contextmanager
def _allow_eddsa(alg: str) -> Iterator[None]:
    """joserfc flags the ``EdDSA`` name as deprecated (RFC 9864) but still verifies it."""
    if alg != "EdDSA":
        yield
        return
    with pytest.warns(SecurityWarning, match="EdDSA is deprecated"):
        yield


def _registry(**claims: Any) -> jwt.JWTClaimsRegistry:
    return jwt.JWTClaimsRegistry(now=int(time.time()), leeway=60, exp={"essential": True}, **claims)


@pytest.mark.parametrize("dialect", HS256_DIALECTS)
def test_joserfc_verifies_every_hs256_roomkey_token(dialect: str) -> None:
    minted = mint_now(dialect, identity="alice", room="standup", role=ROLE_FOR[dialect])
    token = jwt.decode(minted.token, OCT, algorithms=["HS256"])
    assert token.claims == DIALECTS[dialect].to_wire(minted.claims)
    assert token.header["alg"] == "HS256"
    issuer = "apikey" if dialect == "videosdk" else "iss"
    _registry(**{issuer: {"essential": True, "value": API_KEY}}).validate(token.claims)


def test_joserfc_validates_the_native_audience_and_subject() -> None:
    minted = mint_now("native", identity="alice", room="standup", audience="media-eu")
    token = jwt.decode(minted.token, OCT, algorithms=["HS256"])
    assert token.header == {"alg": "HS256", "typ": "JWT", "kid": API_KEY}
    _registry(
        aud={"essential": True, "value": "media-eu"},
        sub={"essential": True, "value": "alice"},
        jti={"essential": True},
    ).validate(token.claims)


def test_joserfc_refuses_a_roomkey_token_under_another_secret() -> None:
    minted = mint_now("livekit", identity="alice", room="standup")
    with pytest.raises(JoseBadSignature):
        jwt.decode(minted.token, OctKey.import_key(SECRET + "-other"), algorithms=["HS256"])


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_huddle01_tokens_verify_against_the_exported_jwks(alg: str) -> None:
    key = ASYMMETRIC[alg]
    # the server publishes every public key it signs with; clients pick one by kid
    published = KeyRing([*ASYMMETRIC.values()]).jwks()
    assert all("d" not in jwk and "p" not in jwk for jwk in published["keys"])
    minted = mint_now("huddle01", key, identity="alice", room="standup", role=Role.SPEAKER)
    with _allow_eddsa(alg):
        token = jwt.decode(minted.token, KeySet.import_key_set(published), algorithms=[alg])
    assert token.header == {"alg": alg, "typ": "JWT", "kid": key.kid}
    assert token.claims == DIALECTS["huddle01"].to_wire(minted.claims)
    assert token.claims["permissions"]["canProduceSources"] == {
        "cam": False,
        "mic": True,
        "screen": False,
    }
    _registry(iss={"essential": True, "value": API_KEY}).validate(token.claims)


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_native_asymmetric_tokens_verify_against_the_exported_jwks(alg: str) -> None:
    key = ASYMMETRIC[alg]
    minted = mint_now("native", key, identity="alice", room="standup")
    with _allow_eddsa(alg):
        token = jwt.decode(
            minted.token, KeySet.import_key_set(KeyRing([key]).jwks()), algorithms=[alg]
        )
    assert token.claims["grant"] == PRESETS[Role.GUEST].to_dict()


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_a_token_signed_by_an_unpublished_key_does_not_verify(alg: str) -> None:
    key = ASYMMETRIC[alg]
    others = KeyRing([k for k in ASYMMETRIC.values() if k is not key]).jwks()
    minted = mint_now("huddle01", key, identity="alice", room="standup")
    with pytest.raises(InvalidKeyIdError, match=key.kid), _allow_eddsa(alg):
        jwt.decode(minted.token, KeySet.import_key_set(others), algorithms=[alg])


# ---- joserfc-minted tokens verify in roomkey -------------------------------------------------

JOSE_PAYLOADS: dict[str, dict[str, Any]] = {
    "native": {
        "rk": 1,
        "iss": API_KEY,
        "sub": "alice",
        "room": "standup",
        "jti": "j1",
        "grant": PRESETS[Role.SPEAKER].to_dict(),
    },
    "livekit": {
        "iss": API_KEY,
        "sub": "alice",
        "video": {"roomJoin": True, "room": "standup", "canPublishSources": ["microphone"]},
    },
    "videosdk": {
        "apikey": API_KEY,
        "permissions": ["allow_join"],
        "version": 2,
        "roomId": "standup",
        "participantId": "alice",
        "roles": ["rtc"],
    },
}


@pytest.mark.parametrize("dialect", HS256_DIALECTS)
def test_joserfc_minted_hs256_tokens_verify_in_roomkey(dialect: str) -> None:
    header = {"alg": "HS256", **({"kid": API_KEY} if dialect == "native" else {})}
    payload = {**JOSE_PAYLOADS[dialect], "iat": NOW, "exp": NOW + 300}
    token = jwt.encode(header, payload, OCT)
    verified = TokenVerifier(hmac_ring(), now=lambda: NOW).verify(
        token, room="standup", identity="alice"
    )
    assert verified.dialect == dialect
    assert verified.unknown_keys == ()
    expected_mic_only = dialect != "videosdk"
    assert (verified.grant.sources == PRESETS[Role.SPEAKER].sources) is expected_mic_only


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_joserfc_minted_huddle01_tokens_verify_in_roomkey(alg: str) -> None:
    key = ASYMMETRIC[alg]
    signer = import_key(key.private_pem(), KTY[alg], parameters={"kid": key.kid})
    payload = {
        "iss": API_KEY,
        "roomId": "standup",
        "peerId": "alice",
        "role": "listener",
        "iat": NOW,
        "exp": NOW + 300,
    }
    with _allow_eddsa(alg):
        token = jwt.encode({"alg": alg, "kid": key.kid}, payload, signer, algorithms=[alg])
    clients = KeyRing()
    clients.add_jwks(KeyRing([key]).jwks())
    verified = TokenVerifier(clients, now=lambda: NOW).verify(token, room="standup")
    assert verified.grant == PRESETS[Role.LISTENER]
    assert (verified.dialect, verified.alg) == ("huddle01", alg)
