"""A node opened with revocations read ahead (``roomkey serve``'s preload): the rules are
filed, and whatever was committed after the preload's snapshot is applied before the node
serves, with or without the change feed running (on both databases)."""

from __future__ import annotations

from typing import Any

from service_support import caller_of

from roomkey.service import RoomkeyService, TokenRequest
from roomkey.store.preload import RevocationPreload


def jti_of(node: RoomkeyService, token: str) -> str:
    verified = node.tokens.verify(token).verified
    assert verified is not None and verified.claims.jti is not None
    return verified.claims.jti


def revoked(node: RoomkeyService, token: str) -> bool:
    outcome = node.tokens.verify(token)
    return outcome.error is not None and outcome.error.code == "revoked"


async def test_a_revocation_committed_after_the_preload_is_enforced_at_once(
    open_node: Any,
) -> None:
    a: RoomkeyService = await open_node()
    caller, pid = caller_of(a), caller_of(a).project_id
    early = (await a.tokens.issue(caller, TokenRequest(identity="eve"), "x")).token
    late = (await a.tokens.issue(caller, TokenRequest(identity="bob"), "x")).token
    await a.revocations.revoke(pid, jti=jti_of(a, early))
    preload = open_node.begin_preload()
    assert await preload.take() is not None  # the snapshot is taken: the next write is after it
    await a.revocations.revoke(pid, jti=jti_of(a, late))
    # polling once a minute: only the catch-up at the start can have applied it
    b: RoomkeyService = await open_node(preload=preload, refresh_interval_s=60)
    assert revoked(b, early) and revoked(b, late)
    assert b.feed.applied == await b.ctx.store.state_revision()


async def test_a_preload_of_another_database_is_never_used(open_node: Any, tmp_path: Any) -> None:
    a: RoomkeyService = await open_node()
    caller, pid = caller_of(a), caller_of(a).project_id
    token = (await a.tokens.issue(caller, TokenRequest(identity="eve"), "x")).token
    await a.revocations.revoke(pid, jti=jti_of(a, token))
    elsewhere = RevocationPreload(f"sqlite:///{tmp_path / 'other' / 'none.db'}")
    b: RoomkeyService = await open_node(preload=elsewhere)
    assert revoked(b, token)  # loaded by b itself
