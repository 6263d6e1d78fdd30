"""The public surface is deliberate: this pins it."""

import roomkey


def test_public_surface_is_pinned() -> None:
    assert sorted(roomkey.__all__) == sorted(
        name for name in dir(roomkey) if not name.startswith("_") and name in roomkey.__all__
    )
    expected = {
        "AccessToken", "TokenVerifier", "KeyRing", "Role", "Grant", "inspect_token",
        "RoomkeyError", "TokenError", "InMemoryRevocations", "TokenMinter",
    }
    assert expected <= set(roomkey.__all__)
    for name in roomkey.__all__:
        assert getattr(roomkey, name) is not None


def test_every_error_has_a_stable_code() -> None:
    errors = [getattr(roomkey, n) for n in roomkey.__all__ if n.endswith("Error")]
    codes = {e.code for e in errors}
    assert all(isinstance(c, str) and c for c in codes)
