"""Bans and room locks: persisted, held in memory, enforced at issuance and by revocation, and
still there after a restart of the service over the same database (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from service_support import caller_of

from roomkey.errors import BannedError, InvalidClaimValueError, NotFoundError
from roomkey.service import Caller, RoomkeyService, TokenRequest


async def _token(service: RoomkeyService, caller: Caller, identity: str, room: str) -> str:
    request = TokenRequest(identity=identity, room=room)
    return (await service.tokens.issue(caller, request, "/v1/tokens")).token


def _refusal(service: RoomkeyService, token: str) -> str | None:
    outcome = service.tokens.verify(token)
    return None if outcome.error is None else outcome.error.code


async def test_a_ban_refuses_issuance_and_revokes_the_tokens_already_held(
    service: RoomkeyService,
) -> None:
    caller = caller_of(service)
    held = await _token(service, caller, "mallory", "weekly")
    other_room = await _token(service, caller, "mallory", "daily")
    ban = await service.bans.ban(caller.project_id, "weekly", "mallory", reason="spam", by="host")
    assert (ban.identity, ban.reason, ban.created_by, ban.lifted_at) == (
        "mallory",
        "spam",
        "host",
        None,
    )
    assert _refusal(service, held) == "revoked"
    assert _refusal(service, other_room) is None  # the ban is for one room only
    with pytest.raises(BannedError) as refused:
        await _token(service, caller, "mallory", "weekly")
    assert refused.value.details == {"room": "weekly", "identity": "mallory"}
    assert _refusal(service, await _token(service, caller, "trent", "weekly")) is None


async def test_a_ban_holds_under_both_names_of_a_room(service: RoomkeyService) -> None:
    caller = caller_of(service)
    room, _ = await service.rooms.create(caller.project_id, custom_id="weekly")
    by_id = await _token(service, caller, "mallory", room.id)
    await service.bans.ban(caller.project_id, "weekly", "mallory")
    assert service.bans.is_banned(caller.project_id, room.id, "mallory")
    assert service.bans.is_banned(caller.project_id, "weekly", "mallory")
    assert not service.bans.is_banned(caller.project_id, "weekly", "trent")
    assert not service.bans.is_banned("no-such-project", "weekly", "mallory")
    assert _refusal(service, by_id) == "revoked"
    with pytest.raises(BannedError):
        await _token(service, caller, "mallory", room.id)


async def test_banning_twice_keeps_the_first_ban(service: RoomkeyService) -> None:
    caller = caller_of(service)
    await service.rooms.create(caller.project_id, custom_id="weekly")
    first = await service.bans.ban(caller.project_id, "weekly", "mallory", reason="first")
    again = await service.bans.ban(caller.project_id, "weekly", "mallory", reason="second")
    assert again == first
    assert await service.bans.list(caller.project_id) == [first]


async def test_lifting_a_ban_allows_new_tokens_but_keeps_the_revocation(
    service: RoomkeyService, clock: Any
) -> None:
    caller = caller_of(service)
    held = await _token(service, caller, "mallory", "weekly")
    await service.bans.ban(caller.project_id, "weekly", "mallory")
    clock.advance(1)  # a token of the same second as the revocation is covered by it
    lifted = await service.bans.lift(caller.project_id, "weekly", "mallory")
    assert lifted.lifted_at == service.ctx.now()
    assert not service.bans.is_banned(caller.project_id, "weekly", "mallory")
    assert _refusal(service, await _token(service, caller, "mallory", "weekly")) is None
    assert _refusal(service, held) == "revoked"
    assert await service.bans.list(caller.project_id, "weekly") == []


async def test_lifting_with_its_revocations_makes_old_tokens_valid_again(
    service: RoomkeyService,
) -> None:
    caller = caller_of(service)
    held = await _token(service, caller, "mallory", "weekly")
    await service.bans.ban(caller.project_id, "weekly", "mallory")
    await service.bans.lift(caller.project_id, "weekly", "mallory", lift_revocations=True)
    assert _refusal(service, held) is None


async def test_what_cannot_be_banned_or_lifted(service: RoomkeyService) -> None:
    caller = caller_of(service)
    await service.rooms.create(caller.project_id, custom_id="weekly")
    with pytest.raises(NotFoundError):
        await service.bans.ban(caller.project_id, "no-such-room", "mallory")
    with pytest.raises(InvalidClaimValueError):
        await service.bans.ban(caller.project_id, "weekly", "")
    with pytest.raises(NotFoundError) as missing:
        await service.bans.lift(caller.project_id, "weekly", "mallory")
    assert missing.value.details["resource"] == "ban"
    with pytest.raises(NotFoundError):
        await service.bans.list(caller.project_id, "no-such-room")


async def test_bans_list_by_room(service: RoomkeyService, clock: Any) -> None:
    caller = caller_of(service)
    for name in ("weekly", "daily"):
        await service.rooms.create(caller.project_id, custom_id=name)
    one = await service.bans.ban(caller.project_id, "weekly", "mallory")
    clock.advance(1)  # listed oldest first
    two = await service.bans.ban(caller.project_id, "daily", "mallory")
    assert await service.bans.list(caller.project_id) == [one, two]
    assert await service.bans.list(caller.project_id, "daily") == [two]


async def test_a_ban_and_a_lock_survive_a_restart(open_node: Any) -> None:
    first: RoomkeyService = await open_node()
    caller = caller_of(first)
    held = await _token(first, caller, "mallory", "weekly")
    await first.bans.ban(caller.project_id, "weekly", "mallory", reason="spam")
    locked = await first.rooms.set_locked(caller.project_id, "weekly", True)
    assert locked.locked
    await first.close()

    restarted: RoomkeyService = await open_node()
    assert restarted.bans.is_banned(caller.project_id, "weekly", "mallory")
    assert _refusal(restarted, held) == "revoked"
    with pytest.raises(BannedError):
        await _token(restarted, caller, "mallory", "weekly")
    room = restarted.ctx.project(caller.project_id).room("weekly")
    assert room is not None and room.locked


async def test_a_lift_and_an_unlock_reach_other_nodes_on_refresh(open_node: Any) -> None:
    a: RoomkeyService = await open_node()
    caller = caller_of(a)
    await a.rooms.create(caller.project_id, custom_id="weekly", locked=True)
    await a.bans.ban(caller.project_id, "weekly", "mallory")
    b: RoomkeyService = await open_node()
    assert b.bans.is_banned(caller.project_id, "weekly", "mallory")
    await a.bans.lift(caller.project_id, "weekly", "mallory")
    await a.rooms.set_locked(caller.project_id, "weekly", False)
    assert await b.refresh()
    assert not b.bans.is_banned(caller.project_id, "weekly", "mallory")
    room = b.ctx.project(caller.project_id).room("weekly")
    assert room is not None and not room.locked


async def test_set_locked_is_persisted_and_idempotent(service: RoomkeyService) -> None:
    caller = caller_of(service)
    room, _ = await service.rooms.create(caller.project_id, custom_id="weekly")
    assert (await service.rooms.set_locked(caller.project_id, "weekly", True)).locked
    assert (await service.rooms.set_locked(caller.project_id, room.id, True)).locked
    stored = await service.ctx.store.get_room(caller.project_id, room.id)
    assert stored is not None and stored.locked
    assert not (await service.rooms.set_locked(caller.project_id, "weekly", False)).locked
    with pytest.raises(NotFoundError):
        await service.rooms.set_locked(caller.project_id, "no-such-room", True)
