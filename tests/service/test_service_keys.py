"""API keys and signing keys: secret shown once, encrypted at rest, rotation, disabling,
and what survives a restart on the same database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from service_support import Clock, caller_of, make_settings

from roomkey.minting import AccessToken
from roomkey.service import Caller, RoomkeyService, TokenRequest
from roomkey.store import ConflictError, NotFoundError


def offline_token(api_key: str, secret: str, clock: Clock, **kw: Any) -> str:
    """A token signed with the core (the way an SDK holding the secret would)."""
    builder = AccessToken(api_key, secret, now=clock).with_identity(kw.get("identity", "alice"))
    return builder.with_room(kw.get("room", "r1")).to_jwt()


async def test_api_key_secret_is_returned_once_and_encrypted_at_rest(
    service: RoomkeyService, clock: Clock
) -> None:
    caller = caller_of(service)
    record, secret = await service.keys.create_api_key(caller.project_id, "ci")
    assert record.kid.startswith("API") and len(secret) >= 43
    stored = await service.ctx.store.get_key(record.kid)
    assert stored is not None
    assert secret.encode() not in stored.secret_ciphertext
    assert secret not in repr(stored)
    listed = await service.keys.list_keys(caller.project_id)
    assert record.kid in {k.kid for k in listed}
    assert all(secret not in repr(k) for k in listed)
    assert service.tokens.verify(offline_token(record.kid, secret, clock)).valid


async def test_signing_key_is_published_and_refuses_hmac(service: RoomkeyService) -> None:
    caller = caller_of(service)
    record = await service.keys.create_signing_key(caller.project_id, "ES256")
    assert record.public_jwk is not None and record.public_jwk["kty"] == "EC"
    assert record.kid in {k["kid"] for k in service.keys.jwks()["keys"]}
    with pytest.raises(Exception) as info:
        await service.keys.create_signing_key(caller.project_id, "HS256")
    assert getattr(info.value, "code", None) == "invalid_configuration"


async def test_rotation_keeps_the_old_key_during_the_overlap_only(
    service: RoomkeyService, clock: Clock
) -> None:
    caller = caller_of(service)
    old, old_secret = await service.keys.create_api_key(caller.project_id, "to rotate")
    before = offline_token(old.kid, old_secret, clock)
    new, new_secret = await service.keys.rotate(caller.project_id, old.kid, overlap_s=600)
    assert new_secret is not None and new.rotated_from == old.kid
    assert service.tokens.verify(before).valid  # overlap: old tokens still verify
    assert service.tokens.verify(offline_token(new.kid, new_secret, clock)).valid
    # the old key can still issue during the overlap (the caller has not switched yet)
    old_caller = Caller(caller.project_id, old.kid, "admin")
    minted = await service.tokens.issue(old_caller, TokenRequest(identity="x"), "/v1/tokens")
    assert minted.kid == old.kid
    clock.advance(601)
    outcome = service.tokens.verify(offline_token(old.kid, old_secret, clock))
    assert outcome.error is not None and outcome.error.code == "bad_signature"
    with pytest.raises(ConflictError):
        await service.keys.rotate(caller.project_id, old.kid)


async def test_disabled_key_stops_verifying_at_once(service: RoomkeyService, clock: Clock) -> None:
    caller = caller_of(service)
    record, secret = await service.keys.create_api_key(caller.project_id, "to disable")
    token = offline_token(record.kid, secret, clock)
    assert service.tokens.verify(token).valid
    disabled = await service.keys.disable(caller.project_id, record.kid)
    assert disabled.status == "disabled"
    outcome = service.tokens.verify(token)
    assert outcome.error is not None and outcome.error.code == "bad_signature"


async def test_the_last_api_key_cannot_be_disabled_or_deleted(service: RoomkeyService) -> None:
    caller = caller_of(service)
    with pytest.raises(ConflictError):
        await service.keys.disable(caller.project_id, caller.kid)
    with pytest.raises(ConflictError):
        await service.keys.delete(caller.project_id, caller.kid)
    with pytest.raises(NotFoundError):
        await service.keys.get(caller.project_id, "APInope")


async def test_state_survives_a_restart(open_node: Any, clock: Clock) -> None:
    """Close the node and open another on the same database: nothing accepted is lost."""
    first: RoomkeyService = await open_node()
    boot = first.bootstrap
    assert boot is not None
    caller = caller_of(first)
    room, created = await first.rooms.create(caller.project_id, custom_id="standup")
    await first.roles.put(caller.project_id, "presenter", {"can_produce": True, "sources": ["cam"]})
    revoked = await first.tokens.issue(
        caller, TokenRequest(identity="mallory", room="standup"), "x"
    )
    rule = await first.revocations.revoke(caller.project_id, identity="mallory")
    lifted = await first.revocations.revoke(caller.project_id, identity="trent")
    await first.revocations.lift(caller.project_id, lifted.id)
    await first.close()

    second: RoomkeyService = await open_node()
    assert second.bootstrap is None  # bootstraps once only
    assert second.tokens.verify(offline_token(boot.api_key, boot.api_secret, clock)).valid
    again, created_again = await second.rooms.create(caller.project_id, custom_id="standup")
    assert created and not created_again and again.id == room.id
    role = await second.tokens.issue(
        caller, TokenRequest(identity="p", room="standup", role="presenter"), "x"
    )
    verified = second.tokens.verify(role.token).verified
    assert verified is not None and verified.claims.role == "presenter"
    assert verified.grant.can_produce
    outcome = second.tokens.verify(revoked.token)
    assert outcome.error is not None and outcome.error.code == "revoked"
    trent = offline_token(boot.api_key, boot.api_secret, clock, identity="trent")
    assert second.tokens.verify(trent).valid
    assert [r.id for r in await second.revocations.list_revocations(caller.project_id)] == [rule.id]
    assert await second.ctx.store.count_audit(caller.project_id) == 2


async def test_dev_key_is_refused_outside_dev_mode(tmp_path: Path, clock: Clock) -> None:
    dev = await RoomkeyService.open(make_settings(tmp_path, dev=True), clock=clock)
    assert dev.bootstrap is not None and dev.bootstrap.api_key == "devkey"
    await dev.close()
    prod = await RoomkeyService.open(make_settings(tmp_path), clock=clock)
    try:
        assert "devkey" not in prod.ctx.state.keys
        assert prod.bootstrap is None
    finally:
        await prod.close()
