"""Inspection: decoding without trust, relative times, warnings, and (with keys) each check."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from roomkey.inspecting import inspect_token
from roomkey.keys import HmacKey, KeyRing
from roomkey.minting import TokenMinter
from roomkey.revocation import InMemoryRevocations
from roomkey.verifying import TokenVerifier

SECRET = "test-secret-that-is-at-least-32-bytes-long!"
API_KEY = "APIkey1"
NOW = 1_795_000_000
HS_HEADER = "eyJhbGciOiJIUzI1NiJ9"  # {"alg":"HS256"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict[str, Any], payload: dict[str, Any] | bytes, key: HmacKey) -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(raw)}"
    return f"{signing_input}.{_b64(key.sign(signing_input.encode()))}"


@pytest.fixture
def key() -> HmacKey:
    return HmacKey(API_KEY, SECRET)


@pytest.fixture
def ring(key: HmacKey) -> KeyRing:
    return KeyRing([key])


def _mint(key: HmacKey, at: float = NOW, dialect: str = "native", **fields: Any) -> str:
    fields.setdefault("identity", "alice")
    fields.setdefault("room", "standup")
    return TokenMinter(key, dialect, now=lambda: at).mint(**fields).token


def _livekit(key: HmacKey, **video: Any) -> str:
    payload = {"iss": API_KEY, "sub": "alice", "nbf": NOW, "exp": NOW + 900, "video": video}
    return _forge({"alg": "HS256", "typ": "JWT"}, payload, key)


# ---- decoding and times --------------------------------------------------------------------


def test_a_good_token_is_decoded_and_explained(key: HmacKey) -> None:
    report = inspect_token(_mint(key), now=NOW + 30)
    assert report.header == {"alg": "HS256", "typ": "JWT", "kid": API_KEY}
    assert report.payload is not None and report.payload["sub"] == "alice"
    assert report.dialect == "native"
    assert report.claims is not None and report.claims.room == "standup"
    assert report.times == {"issued": "issued 30 s ago", "expires": "expires in 14 m"}
    assert report.warnings == [] and report.error is None
    assert report.checks == [] and report.valid is None  # decoded only, nothing verified


def test_expired_token_says_how_long_ago(key: HmacKey) -> None:
    report = inspect_token(_mint(key), now=NOW + 900 + 3 * 3600 + 20)
    assert report.times["expires"] == "expired 3 h ago"
    assert report.times["issued"] == "issued 3 h ago"


def test_token_from_the_future_says_check_the_clock(key: HmacKey) -> None:
    report = inspect_token(_mint(key, at=NOW + 40), now=NOW)
    assert report.times["not_before"] == "not valid for 40 s more — check the clock"
    assert report.times["issued"] == "issued in 40 s (in the future)"
    assert report.times["expires"] == "expires in 15 m"


def test_surrounding_whitespace_is_ignored(key: HmacKey) -> None:
    assert inspect_token("  " + _mint(key) + "\n", now=NOW).dialect == "native"


def test_to_dict_is_json_ready(key: HmacKey, ring: KeyRing) -> None:
    data = inspect_token(_mint(key), keys=ring, now=NOW).to_dict()
    text = json.dumps(data)
    assert SECRET not in text
    assert data["valid"] is True and data["dialect"] == "native"
    assert data["claims"]["identity"] == "alice"
    assert [c["status"] for c in data["checks"]] == ["passed"] * 4


# ---- warnings ------------------------------------------------------------------------------


def test_livekit_misspelt_room_name_is_warned(key: HmacKey) -> None:
    report = inspect_token(_livekit(key, roomJoin=True, roomName="standup"), now=NOW)
    assert report.dialect == "livekit"
    assert any("roomName" in w and "did you mean 'room'" in w for w in report.warnings)
    assert "not bound to a room: it opens every room of the project" in report.warnings


def test_unknown_livekit_source_and_near_miss_grant_are_warned(key: HmacKey) -> None:
    report = inspect_token(
        _livekit(key, roomJoin=True, room="r", canPublishSource=["camera"]), now=NOW
    )
    assert any("canPublishSource" in w and "canPublishSources" in w for w in report.warnings)


def test_missing_exp_is_warned(key: HmacKey) -> None:
    payload = {"iss": API_KEY, "sub": "alice", "video": {"roomJoin": True, "room": "r"}}
    report = inspect_token(_forge({"alg": "HS256"}, payload, key), now=NOW)
    assert "no exp: the token never expires (roomkey refuses it)" in report.warnings
    assert "expires" not in report.times


def test_long_lifetime_is_warned(key: HmacKey) -> None:
    payload = {
        "iss": API_KEY,
        "sub": "alice",
        "iat": NOW,
        "exp": NOW + 30 * 86400,
        "video": {"roomJoin": True, "room": "r"},
    }
    report = inspect_token(_forge({"alg": "HS256"}, payload, key), now=NOW)
    assert "lifetime of 30 d is over 24 h" in report.warnings


@pytest.mark.parametrize("alg", ["none", "HS512", "PS256", ["HS256"], None, {"a": 1}])
def test_alg_outside_the_safe_set_is_warned(key: HmacKey, alg: Any) -> None:
    """Also a regression: an unhashable ``alg`` (list, object) used to crash inspection."""
    token = _mint(key)
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    report = inspect_token(header + token[token.index(".") :], now=NOW)
    assert any("outside the safe set" in w for w in report.warnings)
    assert report.dialect == "native"


def test_forbidden_header_is_warned(key: HmacKey) -> None:
    token = _forge({"alg": "HS256", "jku": "https://x.example/jwks"}, {"iss": API_KEY}, key)
    report = inspect_token(token, now=NOW)
    assert "header parameter 'jku' is never honoured and is refused" in report.warnings


def test_room_token_without_identity_is_warned(key: HmacKey) -> None:
    payload = {"iss": API_KEY, "exp": NOW + 60, "video": {"roomJoin": True, "room": "r"}}
    report = inspect_token(_forge({"alg": "HS256"}, payload, key), now=NOW)
    assert "a room token without a participant identity" in report.warnings


def test_unknown_native_claims_are_warned(key: HmacKey) -> None:
    token = _mint(key)
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    payload["grant"]["superpower"] = True
    token = _forge({"alg": "HS256", "kid": API_KEY}, payload, key)
    report = inspect_token(token, now=NOW)
    # the native format refuses unknown claims (it used to ignore them)
    assert "unknown claim grant.superpower is refused by native verifiers" in report.warnings
    assert report.claims is not None  # still explained
    checked = inspect_token(token, keys=KeyRing([key]), now=NOW)
    failed = [c for c in checked.checks if c.status == "failed"]
    assert [(c.step, c.code) for c in failed] == [("registered claims", "invalid_claims")]


@pytest.mark.parametrize("dialect", ["livekit", "videosdk"])
def test_unknown_claims_of_other_formats_are_warned_as_ignored(key: HmacKey, dialect: str) -> None:
    payload = json.loads(base64.urlsafe_b64decode(_mint(key, dialect=dialect).split(".")[1] + "=="))
    payload["x_custom"] = 1
    token = _forge({"alg": "HS256", "kid": API_KEY}, payload, key)
    report = inspect_token(token, keys=KeyRing([key]), now=NOW)
    assert f"unknown claim x_custom is ignored by {dialect} verifiers" in report.warnings
    assert report.valid is True


def test_non_canonical_encoding_is_decoded_but_warned(key: HmacKey) -> None:
    head, body, sig = _mint(key).split(".")
    padded = head + "=" * (-len(head) % 4) or head + "===="
    report = inspect_token(f"{padded}.{body}.{sig}", now=NOW)
    assert report.header is not None and report.dialect == "native"
    assert any("strict verifiers reject it" in w for w in report.warnings)


def test_duplicate_names_are_decoded_but_warned(key: HmacKey) -> None:
    raw = b'{"iss":"APIkey1","sub":"a","exp":1,"exp":2,"video":{"roomJoin":true}}'
    report = inspect_token(_forge({"alg": "HS256"}, raw, key), now=NOW)
    assert "payload has a duplicate member name; strict verifiers reject it" in report.warnings


# ---- not a token ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "error"),
    [
        ("abc", "not a compact JWT: expected 3 dot-separated parts, found 1"),
        ("a.b.c.d.e", "not a compact JWT: expected 3 dot-separated parts, found 5"),
        (_b64(b"[1]") + "." + _b64(b'{"iss":"k"}') + ".x", "the header is not a JSON object"),
        (f"{_b64(b'{}')}.{_b64(b'not json')}.x", "the payload is not JSON"),
    ],
)
def test_not_a_token_is_reported_not_raised(token: str, error: str) -> None:
    report = inspect_token(token, now=NOW)
    assert report.error == error
    assert report.claims is None


def test_payload_of_no_known_format_is_reported() -> None:
    token = HS_HEADER + "." + _b64(b'{"hello":1}') + ".x"
    report = inspect_token(token, now=NOW)
    assert report.error is not None and "no known token format" in report.error


@pytest.mark.parametrize("depth", [1000, 20_000])
def test_deep_nesting_is_reported_not_a_recursion_error(depth: int) -> None:
    """Regression: the lenient JSON fallback used to raise RecursionError."""
    body = b'{"iss":"x","m":' + b"[" * depth + b"]" * depth + b"}"
    report = inspect_token(f"{HS_HEADER}.{_b64(body)}.x", now=NOW)
    assert report.error == "the payload is not JSON"


# ---- with keys: the checks -----------------------------------------------------------------


def test_checks_all_pass_for_a_good_token(key: HmacKey, ring: KeyRing) -> None:
    report = inspect_token(_mint(key), keys=ring, room="standup", identity="alice", now=NOW)
    assert [(c.status, c.code) for c in report.checks] == [("passed", None)] * 4
    assert report.checks[1].detail == "HS256 with key 'APIkey1'"
    assert report.valid is True


def test_expired_token_fails_registered_claims_and_skips_the_rest(
    key: HmacKey, ring: KeyRing
) -> None:
    report = inspect_token(_mint(key), keys=ring, now=NOW + 900 + 180)
    statuses = [(c.step, c.status, c.code) for c in report.checks]
    assert statuses == [
        ("size, compact form and header", "passed", None),
        ("key selection and signature", "passed", None),
        ("registered claims", "failed", "expired"),
        ("room, identity, scope and revocation", "skipped", None),
    ]
    assert report.checks[2].detail == "the token expired 3 m ago"
    assert report.valid is False


def test_unknown_key_fails_the_signature_check(key: HmacKey) -> None:
    other = KeyRing([HmacKey("APIkey9", "z" * 40)])
    report = inspect_token(_mint(key), keys=other, now=NOW)
    assert [c.status for c in report.checks] == ["passed", "failed", "skipped", "skipped"]
    assert report.checks[1].code == "bad_signature"
    assert SECRET not in json.dumps(report.to_dict())


def test_malformed_token_fails_the_first_check(ring: KeyRing, key: HmacKey) -> None:
    head, body, sig = _mint(key).split(".")
    report = inspect_token(f"{head}=.{body}.{sig}", keys=ring, now=NOW)
    assert report.checks[0].status == "failed" and report.checks[0].code == "malformed"
    assert [c.status for c in report.checks[1:]] == ["skipped"] * 3


def test_wrong_room_and_scope_fail_the_application_check(key: HmacKey, ring: KeyRing) -> None:
    token = _mint(key)
    wrong_room = inspect_token(token, keys=ring, room="boardroom", now=NOW)
    assert wrong_room.checks[3].code == "wrong_room"
    api = inspect_token(token, keys=ring, scope="api", now=NOW)
    assert api.checks[3].code == "wrong_scope"
    bogus = inspect_token(token, keys=ring, scope="bogus", now=NOW)
    assert bogus.checks[3].code == "invalid_configuration"


def test_a_given_verifier_is_used(key: HmacKey, ring: KeyRing) -> None:
    revocations = InMemoryRevocations()
    revocations.revoke_identity("alice", now=NOW)
    verifier = TokenVerifier(ring, revocations=revocations)
    report = inspect_token(_mint(key), verifier=verifier, now=NOW)
    assert report.checks[3].code == "revoked"


def test_leeway_is_passed_to_the_checks(key: HmacKey, ring: KeyRing) -> None:
    late = NOW + 900 + 100
    assert inspect_token(_mint(key), keys=ring, now=late).valid is False
    assert inspect_token(_mint(key), keys=ring, leeway_s=120, now=late).valid is True


def test_huge_input_is_not_decoded() -> None:
    """Regression: ``MAX_INSPECT_BYTES`` was defined but never applied."""
    report = inspect_token("a." * 100_000 + "a", now=NOW)
    assert report.error == "the token is 200001 bytes; inspection stops at 65536"
    assert report.header is None and report.warnings == []
