"""Rooms, custom roles, revocations and caller authentication in the service layer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from service_support import Clock, caller_of

from roomkey.errors import InvalidClaimValueError, InvalidGrantError, InvalidRoleError
from roomkey.grants import Scope
from roomkey.minting import AccessToken
from roomkey.service import AuthenticationError, ForbiddenError, RoomkeyService, TokenRequest
from roomkey.store import NotFoundError, StoreError


async def issue(service: RoomkeyService, **kw: Any) -> str:
    request = TokenRequest(**{"identity": "alice", "room": "r1", **kw})
    return (await service.tokens.issue(caller_of(service), request, "/v1/tokens")).token


def code_of(service: RoomkeyService, token: str, **kw: Any) -> str | None:
    outcome = service.tokens.verify(token, **kw)
    return None if outcome.valid else outcome.error.code  # type: ignore[union-attr]


async def test_custom_room_id_is_idempotent_on_both_backends(open_node: Any) -> None:
    service: RoomkeyService = await open_node()
    project = caller_of(service).project_id
    first, created = await service.rooms.create(project, custom_id="daily", metadata={"a": 1})
    again, created_again = await service.rooms.create(project, custom_id="daily")
    assert (created, created_again) == (True, False)
    assert again.id == first.id and again.metadata == {"a": 1}
    plain, _ = await service.rooms.create(project)
    assert len(plain.id) == 14 and plain.id.count("-") == 2
    assert (await service.rooms.get(project, "daily")).id == first.id
    page, _ = await service.rooms.list_rooms(project, limit=10)
    assert {r.id for r in page} == {first.id, plain.id}
    with pytest.raises(NotFoundError):
        await service.rooms.get(project, "missing")
    with pytest.raises(InvalidClaimValueError):
        await service.rooms.create(project, max_participants=0)


async def test_custom_roles_are_checked_and_used(service: RoomkeyService) -> None:
    project = caller_of(service).project_id
    stored = await service.roles.put(project, "presenter", {"canPublish": True, "sources": ["cam"]})
    assert stored.name == "presenter"
    token = await issue(service, role="presenter")
    verified = service.tokens.verify(token).verified
    assert verified is not None and verified.claims.role == "presenter"
    assert verified.grant.can_produce and not verified.grant.moderate
    assert [r.name for r in await service.roles.list_roles(project)] == ["presenter"]
    with pytest.raises(InvalidRoleError):
        await service.roles.put(project, "host", {})
    with pytest.raises(InvalidGrantError) as info:
        await service.roles.put(project, "typo", {"can_publsh": True})
    assert "did you mean" in info.value.message
    await service.roles.delete(project, "presenter")
    with pytest.raises(NotFoundError):
        await service.roles.get(project, "presenter")
    with pytest.raises(InvalidRoleError):
        await issue(service, role="presenter")


@pytest.mark.parametrize(
    ("target", "hits", "misses"),
    [
        ({"identity": "alice"}, ["alice@r1", "alice@r2"], ["bob@r1"]),
        ({"identity": "alice", "room": "r1"}, ["alice@r1"], ["alice@r2", "bob@r1"]),
        ({"room": "r1"}, ["alice@r1", "bob@r1"], ["alice@r2"]),
    ],
)
async def test_revocation_targets(
    service: RoomkeyService, target: dict[str, str], hits: list[str], misses: list[str]
) -> None:
    tokens = {
        f"{who}@{room}": await issue(service, identity=who, room=room)
        for who in ("alice", "bob")
        for room in ("r1", "r2")
    }
    rule = await service.revocations.revoke(caller_of(service).project_id, **target)  # type: ignore[arg-type]
    assert [code_of(service, tokens[t]) for t in hits] == ["revoked"] * len(hits)
    assert [code_of(service, tokens[t]) for t in misses] == [None] * len(misses)
    await service.revocations.lift(caller_of(service).project_id, rule.id)
    assert [code_of(service, tokens[t]) for t in hits] == [None] * len(hits)


async def test_revoke_by_jti_key_and_issued_before(service: RoomkeyService, clock: Clock) -> None:
    project = caller_of(service).project_id
    one, two = await issue(service), await issue(service)
    jti = service.tokens.verify(one).verified.claims.jti  # type: ignore[union-attr]
    await service.revocations.revoke(project, jti=jti)
    assert (code_of(service, one), code_of(service, two)) == ("revoked", None)
    clock.advance(10)
    later = await issue(service)
    rule = await service.revocations.revoke(project, issued_before=int(clock.now) - 5)
    assert (code_of(service, two), code_of(service, later)) == ("revoked", None)
    await service.revocations.lift(project, rule.id)
    await service.revocations.revoke(project, kid=caller_of(service).kid)
    assert code_of(service, later) == "revoked"


@pytest.mark.parametrize(
    "target",
    [
        {},
        {"jti": "j", "identity": "a"},
        {"identity": "a", "kid": "k"},
        {"room": "r", "kid": "k"},
    ],
)
async def test_revocation_must_name_one_target(
    service: RoomkeyService, target: dict[str, Any]
) -> None:
    with pytest.raises(InvalidClaimValueError):
        await service.revocations.revoke(caller_of(service).project_id, **target)


async def test_lifting_an_unknown_rule_is_not_found(service: RoomkeyService) -> None:
    with pytest.raises(NotFoundError):
        await service.revocations.lift(caller_of(service).project_id, "rev_nope")


async def test_authenticate_accepts_bearer_and_raw_server_tokens(service: RoomkeyService) -> None:
    boot = service.bootstrap
    assert boot is not None
    for header in (f"Bearer {boot.admin_token}", boot.admin_token, f"bearer  {boot.admin_token} "):
        caller = service.authenticate(header)
        assert (caller.project_id, caller.kid, caller.identity) == (
            boot.project_id,
            boot.api_key,
            "admin",
        )


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing_token"),
        ("", "missing_token"),
        ("Basic dXNlcjpwYXNz", "malformed"),
        ("Bearer not.a.jwt", "malformed"),
        ("Bearer " + "A" * 20000, "token_too_large"),
    ],
)
async def test_authenticate_refuses_with_a_reason(
    service: RoomkeyService, header: str | None, reason: str
) -> None:
    with pytest.raises(AuthenticationError) as info:
        service.authenticate(header)
    assert info.value.message.startswith("Token is invalid or expired")
    assert info.value.details["reason"] == reason


async def test_participant_token_is_forbidden_on_the_management_api(
    service: RoomkeyService, clock: Clock
) -> None:
    with pytest.raises(ForbiddenError) as info:
        service.authenticate(f"Bearer {await issue(service)}")
    assert info.value.details["reason"] == "wrong_scope"
    signing = next(r for r in service.ctx.state.keys.values() if r.purpose == "signing")
    key = service.ctx.state.keyring.get(signing.kid, clock.now)
    assert key is not None
    by_signing_key = (
        AccessToken(key=key, now=clock).with_identity("x").with_scope(Scope.API).to_jwt()
    )
    with pytest.raises(ForbiddenError) as info:
        service.authenticate(by_signing_key)
    assert info.value.details["reason"] == "wrong_key"


async def test_a_crowd_joining_a_new_room_creates_it_once(
    service: RoomkeyService, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = service.ctx.store
    writes: list[str | None] = []
    create_room = store.create_room

    async def counted(record: Any, **kw: Any) -> Any:
        writes.append(record.custom_id)
        return await create_room(record, **kw)

    monkeypatch.setattr(store, "create_room", counted)
    caller = caller_of(service)
    requests = [TokenRequest(identity=f"p{i}", room="all-hands") for i in range(50)]
    minted = await asyncio.gather(
        *(service.tokens.issue(caller, request, "/v1/tokens") for request in requests)
    )
    assert writes == ["all-hands"]
    rooms = {code_of(service, m.token, room="all-hands") for m in minted}
    assert rooms == {None}  # every token valid for the one room
    again = await service.rooms.resolve_for_issue(caller.project_id, "all-hands")
    assert writes == ["all-hands"] and again.custom_id == "all-hands"


async def test_a_failed_first_use_is_reported_to_every_waiter_and_retried_later(
    service: RoomkeyService, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = service.ctx.store
    create_room = store.create_room
    calls: list[int] = []

    async def failing_once(record: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            await asyncio.sleep(0.01)
            raise StoreError("create a room failed")
        return await create_room(record, **kw)

    monkeypatch.setattr(store, "create_room", failing_once)
    project = caller_of(service).project_id
    results = await asyncio.gather(
        *(service.rooms.resolve_for_issue(project, "standup") for _ in range(5)),
        return_exceptions=True,
    )
    assert all(isinstance(r, StoreError) for r in results) and len(calls) == 1
    room = await service.rooms.resolve_for_issue(project, "standup")
    assert room.custom_id == "standup" and len(calls) == 2
