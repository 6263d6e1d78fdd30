"""The public surface is deliberate: adding or removing a name must change this test."""

import roomkey

PUBLIC = [
    "AccessToken",
    "Algorithm",
    "BadSignatureError",
    "Claims",
    "ConfigurationError",
    "CustomRole",
    "DIALECTS",
    "DisallowedAlgorithmError",
    "EcKey",
    "Ed25519Key",
    "ForbiddenHeaderError",
    "Grant",
    "HmacKey",
    "InMemoryRevocations",
    "Inspection",
    "InvalidClaimValueError",
    "InvalidClaimsError",
    "InvalidGrantError",
    "InvalidKeyError",
    "InvalidRoleError",
    "JoinMode",
    "Key",
    "KeyRing",
    "LifetimeTooLongError",
    "MalformedTokenError",
    "MetadataTooLargeError",
    "MintedToken",
    "MissingClaimError",
    "NestedTooDeepError",
    "PRESETS",
    "Revocation",
    "RevocationChecker",
    "RevokedTokenError",
    "Role",
    "RoomInactiveError",
    "RoomkeyError",
    "RsaKey",
    "Scope",
    "Source",
    "TokenError",
    "TokenExpiredError",
    "TokenMinter",
    "TokenNotYetValidError",
    "TokenTooLargeError",
    "TokenVerifier",
    "UnknownRoomError",
    "UnsupportedByDialectError",
    "VerifiedToken",
    "WeakKeyError",
    "WrongAudienceError",
    "WrongIdentityError",
    "WrongIssuerError",
    "WrongRoomError",
    "WrongScopeError",
    "__version__",
    "generate_key",
    "inspect_token",
    "load_pem_key",
    "load_public_jwk",
]


def test_public_surface_is_pinned() -> None:
    assert sorted(roomkey.__all__) == PUBLIC


def test_every_public_name_resolves() -> None:
    for name in roomkey.__all__:
        assert getattr(roomkey, name) is not None, name


def test_every_error_has_a_stable_code() -> None:
    errors = [getattr(roomkey, n) for n in roomkey.__all__ if n.endswith("Error")]
    codes = [e.code for e in errors]
    assert all(isinstance(c, str) and c for c in codes)
    assert issubclass(roomkey.TokenError, roomkey.RoomkeyError)
