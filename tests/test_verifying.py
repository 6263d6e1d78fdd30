"""The verifier pipeline with an injected clock: configuration, each step, and the split API."""

from __future__ import annotations

from typing import Any

import pytest

from roomkey import jws
from roomkey.errors import (
    BadSignatureError,
    ConfigurationError,
    InvalidClaimsError,
    LifetimeTooLongError,
    MissingClaimError,
    RevokedTokenError,
    TokenExpiredError,
    TokenNotYetValidError,
    WrongIssuerError,
)
from roomkey.grants import Scope
from roomkey.keys import HmacKey, Key, KeyRing, generate_key
from roomkey.minting import TokenMinter
from roomkey.revocation import InMemoryRevocations
from roomkey.roles import PRESETS, Role
from roomkey.verifying import (
    DEFAULT_LEEWAY_S,
    MAX_LEEWAY_S,
    UNKNOWN_OR_BAD,
    TokenVerifier,
    human_duration,
)

SECRET = "test-secret-that-is-at-least-32-bytes-long!"
API_KEY = "APIkey1"
NOW = 1_795_000_000


@pytest.fixture(scope="module")
def ed_key() -> Key:
    return generate_key("EdDSA", kid="ed-1")


@pytest.fixture
def hmac_key() -> HmacKey:
    return HmacKey(API_KEY, SECRET)


@pytest.fixture
def ring(hmac_key: HmacKey, ed_key: Key) -> KeyRing:
    return KeyRing([hmac_key, ed_key])


@pytest.fixture
def verifier(ring: KeyRing) -> TokenVerifier:
    return TokenVerifier(ring, now=lambda: NOW)


def _mint(key: Key, dialect: str = "native", at: float = NOW, **fields: Any) -> str:
    fields.setdefault("identity", "alice")
    fields.setdefault("room", "standup")
    return TokenMinter(key, dialect, api_key=API_KEY, now=lambda: at).mint(**fields).token


def _payload_token(key: Key, **changes: Any) -> str:
    """A native token whose payload is edited after minting, then re-signed."""
    payload = jws.parse(_mint(key)).payload
    payload.update(changes)
    for name in [k for k, v in changes.items() if v is ...]:
        del payload[name]
    return jws.encode(payload, key)


# ---- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize("leeway", [0, 1, DEFAULT_LEEWAY_S, MAX_LEEWAY_S])
def test_leeway_within_bounds_is_accepted(ring: KeyRing, leeway: float) -> None:
    assert TokenVerifier(ring, leeway_s=leeway).leeway_s == leeway


@pytest.mark.parametrize("leeway", [MAX_LEEWAY_S + 1, 301, 3600, -1, float("nan"), float("inf")])
def test_leeway_out_of_bounds_is_a_configuration_error(ring: KeyRing, leeway: float) -> None:
    with pytest.raises(ConfigurationError) as info:
        TokenVerifier(ring, leeway_s=leeway)
    assert info.value.code == "invalid_configuration"


@pytest.mark.parametrize("option", [{"max_lifetime_s": 0}, {"max_bytes": 0}, {"max_bytes": -5}])
def test_non_positive_limits_are_configuration_errors(ring: KeyRing, option: Any) -> None:
    with pytest.raises(ConfigurationError):
        TokenVerifier(ring, **option)


def test_unknown_dialect_is_a_configuration_error(ring: KeyRing) -> None:
    with pytest.raises(ConfigurationError, match="unknown dialect"):
        TokenVerifier(ring, dialects=["native", "jwt-classic"])


@pytest.mark.parametrize("scope", ["bogus", "ROOM", "", "room,api"])
def test_unknown_scope_is_a_configuration_error(
    verifier: TokenVerifier, hmac_key: HmacKey, scope: str
) -> None:
    """Regression: ``Scope(scope)`` used to leak a bare ValueError."""
    with pytest.raises(ConfigurationError, match="unknown scope"):
        verifier.verify(_mint(hmac_key), scope=scope)


# ---- happy paths ---------------------------------------------------------------------------


def test_native_token_verifies_with_every_field(verifier: TokenVerifier, hmac_key: HmacKey) -> None:
    token = _mint(hmac_key, role=Role.SPEAKER, name="Alice", metadata={"a": [1]})
    verified = verifier.verify(token, room="standup", identity="alice", scope=Scope.ROOM)
    assert (verified.dialect, verified.kid, verified.alg) == ("native", API_KEY, "HS256")
    assert verified.grant == PRESETS[Role.SPEAKER]
    assert verified.claims.name == "Alice" and verified.claims.metadata == {"a": [1]}
    assert verified.header == {"alg": "HS256", "typ": "JWT", "kid": API_KEY}
    assert verified.unknown_keys == ()


@pytest.mark.parametrize("dialect", ["native", "livekit", "videosdk", "huddle01"])
def test_each_dialect_round_trips_through_the_verifier(
    verifier: TokenVerifier, hmac_key: HmacKey, ed_key: Key, dialect: str
) -> None:
    key = ed_key if dialect == "huddle01" else hmac_key
    role = Role.HOST if dialect == "videosdk" else Role.GUEST
    verified = verifier.verify(_mint(key, dialect, role=role), room="standup", identity="alice")
    assert verified.dialect == dialect and verified.kid == key.kid
    assert verified.claims.room == "standup" and verified.claims.identity == "alice"


def test_bytes_tokens_verify(verifier: TokenVerifier, hmac_key: HmacKey) -> None:
    assert verifier.verify(_mint(hmac_key).encode()).claims.identity == "alice"


def test_dialects_can_be_restricted(ring: KeyRing, hmac_key: HmacKey) -> None:
    only_livekit = TokenVerifier(ring, dialects=["livekit"], now=lambda: NOW)
    assert only_livekit.verify(_mint(hmac_key, "livekit")).dialect == "livekit"
    with pytest.raises(InvalidClaimsError, match="native tokens are not accepted"):
        only_livekit.verify(_mint(hmac_key))


def test_unknown_keys_are_reported_not_dropped(verifier: TokenVerifier, hmac_key: HmacKey) -> None:
    # a LiveKit token: the native format refuses unknown claims instead (below)
    payload = jws.parse(_mint(hmac_key, "livekit")).payload | {"extra_claim": 1}
    token = jws.encode(payload, hmac_key)
    assert verifier.verify(token).unknown_keys == ("extra_claim",)


@pytest.mark.parametrize("where", ["top", "grant"])
def test_unknown_native_claims_are_refused_by_name(
    verifier: TokenVerifier, hmac_key: HmacKey, where: str
) -> None:
    grant = jws.parse(_mint(hmac_key)).payload["grant"]
    if where == "top":
        token, claim, message = _payload_token(hmac_key, extra=1), "extra", "claim 'extra' is"
    else:
        token = _payload_token(hmac_key, grant={**grant, "superpower": True})
        claim, message = "grant.superpower", "grant field 'superpower' is"
    with pytest.raises(
        InvalidClaimsError, match=f"{message} not part of the native format"
    ) as info:
        verifier.verify(token)
    assert info.value.details == {"claim": claim}
    assert "metadata" in info.value.message  # it says where application data goes


def test_a_native_grant_may_carry_capabilities(verifier: TokenVerifier, hmac_key: HmacKey) -> None:
    grant = {
        **jws.parse(_mint(hmac_key)).payload["grant"],
        "scope": ["room", "api"],
        "capabilities": ["rooms:read"],
    }
    verified = verifier.verify(_payload_token(hmac_key, grant=grant), scope="api")
    assert verified.unknown_keys == ()
    assert verified.grant.capabilities == {"rooms:read"}


# ---- time: injected, never slept -----------------------------------------------------------


def test_constructor_clock_and_per_call_now(ring: KeyRing, hmac_key: HmacKey) -> None:
    clock = [NOW]
    verifier = TokenVerifier(ring, now=lambda: clock[0])
    token = _mint(hmac_key, ttl=900)
    assert verifier.verify(token).claims.identity == "alice"
    clock[0] = NOW + 900 + DEFAULT_LEEWAY_S
    with pytest.raises(TokenExpiredError):
        verifier.verify(token)
    assert verifier.verify(token, now=NOW + 10).claims.identity == "alice"


def test_expiry_edges_follow_the_leeway(ring: KeyRing, hmac_key: HmacKey) -> None:
    token = _mint(hmac_key, ttl=900)
    exp = NOW + 900
    strict = TokenVerifier(ring, leeway_s=0, now=lambda: NOW)
    assert strict.verify(token, now=exp - 1)
    with pytest.raises(TokenExpiredError):
        strict.verify(token, now=exp)
    loose = TokenVerifier(ring, leeway_s=MAX_LEEWAY_S, now=lambda: NOW)
    assert loose.verify(token, now=exp + MAX_LEEWAY_S - 1)
    with pytest.raises(TokenExpiredError):
        loose.verify(token, now=exp + MAX_LEEWAY_S)


def test_expired_message_says_how_long_ago(verifier: TokenVerifier, hmac_key: HmacKey) -> None:
    token = _mint(hmac_key, ttl=900)
    with pytest.raises(TokenExpiredError) as info:
        verifier.verify(token, now=NOW + 900 + 3 * 60 + 5)
    assert info.value.message == "the token expired 3 m ago"
    assert info.value.details == {"expired_at": NOW + 900, "seconds_ago": 185}


def test_not_yet_valid_message_says_check_the_clock(
    verifier: TokenVerifier, hmac_key: HmacKey
) -> None:
    token = _mint(hmac_key, at=NOW + 100)
    with pytest.raises(TokenNotYetValidError) as info:
        verifier.verify(token)
    assert "not valid for 1 m more" in info.value.message
    assert "check the clock" in info.value.message
    assert info.value.details["seconds_early"] == 100
    assert verifier.verify(token, now=NOW + 40).claims.identity == "alice"


def test_lifetime_is_capped(ring: KeyRing, hmac_key: HmacKey) -> None:
    day = TokenMinter(hmac_key, now=lambda: NOW).mint(identity="a", room="r", ttl=86400).token
    assert TokenVerifier(ring, now=lambda: NOW).verify(day)
    short = TokenVerifier(ring, max_lifetime_s=3600, now=lambda: NOW)
    with pytest.raises(LifetimeTooLongError) as info:
        short.verify(day)
    assert info.value.details == {"max_lifetime_s": 3600}
    assert short.verify(_mint(hmac_key, ttl=3600))


def test_lifetime_without_iat_is_measured_from_now(ring: KeyRing, hmac_key: HmacKey) -> None:
    verifier = TokenVerifier(ring, max_lifetime_s=3600, now=lambda: NOW)
    ok = _payload_token(hmac_key, iat=..., nbf=..., exp=NOW + 3600)
    assert verifier.verify(ok)
    too_long = _payload_token(hmac_key, iat=..., nbf=..., exp=NOW + 3600 + 61 + 1)
    with pytest.raises(LifetimeTooLongError):
        verifier.verify(too_long)


@pytest.mark.parametrize(
    ("times", "error", "claim"),
    [
        ({"exp": ...}, MissingClaimError, "exp"),
        ({"exp": NOW - 61, "nbf": NOW + 61, "iat": NOW + 61}, TokenExpiredError, None),
        ({"nbf": NOW + 61, "iat": NOW + 61}, TokenNotYetValidError, "nbf"),
        ({"nbf": ..., "iat": NOW + 61}, TokenNotYetValidError, "iat"),
        ({"nbf": NOW + 61, "iat": NOW - 86400}, TokenNotYetValidError, "nbf"),
        ({"iat": NOW - 86400, "exp": NOW + 100}, LifetimeTooLongError, None),
    ],
)
def test_time_checks_run_in_order(
    verifier: TokenVerifier, hmac_key: HmacKey, times: dict[str, Any], error: type, claim: Any
) -> None:
    """exp missing, then expired, then nbf ahead, then iat ahead, then the lifetime (declared)."""
    with pytest.raises(error) as info:
        verifier.verify(_payload_token(hmac_key, **times))
    assert info.value.details.get("claim") == claim


# ---- split API and fail-closed details -----------------------------------------------------


def test_signature_and_claims_are_checked_separately(
    verifier: TokenVerifier, hmac_key: HmacKey
) -> None:
    token = _mint(hmac_key, ttl=60)
    later = NOW + 3600
    verified = verifier.verify_signature(token, now=later)  # claims not looked at yet
    assert verified.claims.expires_at == NOW + 60
    with pytest.raises(TokenExpiredError):
        verifier.validate(verified, now=later)
    verifier.validate_registered(verified, now=NOW)
    verifier.validate_application(verified, room="standup", identity="alice")


def test_issuer_check_uses_the_injected_clock(hmac_key: HmacKey) -> None:
    """Regression: the issuer binding used the wall clock, so with an injected clock a key
    whose ``expires_at`` had passed in real time silently skipped the issuer check."""
    retiring = HmacKey("old-key", "o" * 40, expires_at=1_000_000_000)
    ring = KeyRing([retiring, hmac_key])
    then = 999_999_000
    token = TokenMinter(retiring, api_key=API_KEY, now=lambda: then).mint(identity="a", room="r")
    with pytest.raises(WrongIssuerError):
        TokenVerifier(ring, now=lambda: then).verify(token.token)


def test_key_gone_between_steps_fails_closed(ring: KeyRing, hmac_key: HmacKey) -> None:
    verifier = TokenVerifier(ring, now=lambda: NOW)
    verified = verifier.verify_signature(_mint(hmac_key))
    ring.remove(API_KEY)
    with pytest.raises(BadSignatureError) as info:
        verifier.validate_registered(verified)
    assert info.value.message == UNKNOWN_OR_BAD


def test_asymmetric_key_without_issuer_accepts_any_iss(ring: KeyRing, ed_key: Key) -> None:
    """Documented behaviour: an asymmetric key with no ``issuer`` is not bound to an API key."""
    token = TokenMinter(ed_key, api_key="whoever", now=lambda: NOW).mint(identity="a", room="r")
    assert TokenVerifier(ring, now=lambda: NOW).verify(token.token).claims.api_key == "whoever"
    bound = generate_key("EdDSA", kid="ed-bound")
    bound.issuer = API_KEY
    ring.add(bound)
    other = TokenMinter(bound, api_key="whoever", now=lambda: NOW).mint(identity="a", room="r")
    with pytest.raises(WrongIssuerError):
        TokenVerifier(ring, now=lambda: NOW).verify(other.token)


def test_revocation_message_names_the_rule_and_time(ring: KeyRing, hmac_key: HmacKey) -> None:
    revocations = InMemoryRevocations()
    verifier = TokenVerifier(ring, revocations=revocations, now=lambda: NOW)
    token = _mint(hmac_key)
    revocations.revoke_identity("alice", room="standup", now=NOW + 1)
    with pytest.raises(RevokedTokenError) as info:
        verifier.verify(token)
    assert info.value.message == (
        "the token was revoked (identity 'alice' in room 'standup') at 2026-11-18T11:06:41Z"
    )
    assert info.value.details == {"rule": "identity", "revoked_at": NOW + 1}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (40, "40 s"), (59.9, "59 s"), (60, "1 m"), (14 * 60 + 59, "14 m"),
     (3 * 3600, "3 h"), (86400 * 5 + 1, "5 d"), (-40, "40 s")],
)  # fmt: skip
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text
