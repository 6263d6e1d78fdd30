"""Issuing (audited durably, every dialect) and verifying (with reasons, from memory only)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt
import pytest
from service_support import NOW, Clock, add_project, caller_of, make_settings

from roomkey.errors import InvalidClaimValueError, UnknownRoomError
from roomkey.minting import AccessToken
from roomkey.service import RoomkeyService, TokenRequest
from roomkey.service.audit import AuditUnavailableError
from roomkey.service.tokens import ProjectRequiredError
from roomkey.store import AuditRecord, StoreError, open_store
from roomkey.store.records import ProjectSettings


async def count_audit(service: RoomkeyService) -> int:
    boot = service.bootstrap
    assert boot is not None
    return await service.ctx.store.count_audit(boot.project_id)


async def test_every_issuance_is_audited_before_it_returns(open_node: Any) -> None:
    service: RoomkeyService = await open_node()
    caller = caller_of(service)
    minted = await service.tokens.issue(
        caller, TokenRequest(identity="alice", room="r1"), "/v1/tokens"
    )
    rows, _ = await service.ctx.store.list_audit(caller.project_id)
    assert [(r.jti, r.identity, r.room, r.endpoint, r.caller) for r in rows] == [
        (minted.claims.jti, "alice", "r1", "/v1/tokens", f"{caller.kid}:admin")
    ]


async def test_concurrent_issuances_are_group_committed_and_all_audited(open_node: Any) -> None:
    service: RoomkeyService = await open_node()
    caller = caller_of(service)
    minted = await asyncio.gather(
        *(
            service.tokens.issue(caller, TokenRequest(identity=f"u{i}", room="r"), "/v1/tokens")
            for i in range(60)
        )
    )
    assert len({m.claims.jti for m in minted}) == 60
    assert await count_audit(service) == 60


@pytest.mark.parametrize("dialect", ["native", "livekit", "videosdk", "huddle01"])
async def test_issue_and_verify_each_dialect(service: RoomkeyService, dialect: str) -> None:
    caller = caller_of(service)
    minted = await service.tokens.issue(
        caller, TokenRequest(identity="alice", room="r1", dialect=dialect), "/v1/tokens"
    )
    outcome = service.tokens.verify(minted.token, room="r1", identity="alice")
    assert outcome.valid, outcome.error
    assert outcome.verified is not None
    assert outcome.verified.dialect == dialect
    if dialect == "huddle01":  # signed by the project's signing key, published in the JWKS
        kids = [k["kid"] for k in service.keys.jwks()["keys"]]
        assert outcome.verified.kid in kids
        assert outcome.verified.alg == "EdDSA"
    else:
        assert outcome.verified.kid == caller.kid


async def test_livekit_token_verifies_with_pyjwt(service: RoomkeyService) -> None:
    boot = service.bootstrap
    assert boot is not None
    minted = await service.tokens.issue(
        caller_of(service), TokenRequest(identity="bob", room="r2", dialect="livekit"), "/token"
    )
    payload = jwt.decode(
        minted.token,
        boot.api_secret,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )
    assert payload["iss"] == boot.api_key
    assert payload["sub"] == "bob"
    assert payload["video"]["room"] == "r2"


async def test_ttl_over_the_project_maximum_is_refused(service: RoomkeyService) -> None:
    with pytest.raises(InvalidClaimValueError) as info:
        await service.tokens.issue(
            caller_of(service), TokenRequest(identity="a", ttl_s=86401), "/v1/tokens"
        )
    assert info.value.details["field"] == "ttl_s"
    assert await count_audit(service) == 0


async def test_expired_token_is_refused_with_a_reason(
    service: RoomkeyService, clock: Clock
) -> None:
    minted = await service.tokens.issue(
        caller_of(service), TokenRequest(identity="a", room="r", ttl_s=60), "/v1/tokens"
    )
    assert service.tokens.verify(minted.token).valid
    clock.advance(60 + 61)  # past expiry and the 60 s leeway
    outcome = service.tokens.verify(minted.token)
    assert not outcome.valid
    assert outcome.error is not None and outcome.error.code == "expired"


async def test_deactivated_room_refuses_its_tokens(service: RoomkeyService) -> None:
    caller = caller_of(service)
    minted = await service.tokens.issue(caller, TokenRequest(identity="a", room="r"), "/v1/tokens")
    await service.rooms.deactivate(caller.project_id, "r")
    outcome = service.tokens.verify(minted.token)
    assert outcome.error is not None and outcome.error.code == "room_inactive"
    with pytest.raises(Exception) as info:
        await service.tokens.issue(caller, TokenRequest(identity="b", room="r"), "/v1/tokens")
    assert getattr(info.value, "code", None) == "room_inactive"


async def test_unknown_room_when_rooms_are_not_auto_created(service: RoomkeyService) -> None:
    caller = caller_of(service)
    early = await service.tokens.issue(
        caller, TokenRequest(identity="a", room="later-gone"), "/v1/tokens"
    )
    state = service.ctx.project(caller.project_id)
    state.record = await service.ctx.store.update_project_settings(
        caller.project_id, ProjectSettings(auto_create_rooms=False)
    )
    with pytest.raises(UnknownRoomError):
        await service.tokens.issue(caller, TokenRequest(identity="a", room="nope"), "/v1/tokens")
    # a token signed offline for a room the project doesn't know is refused on verify
    boot = service.bootstrap
    assert boot is not None
    offline = (
        AccessToken(boot.api_key, boot.api_secret, now=service.ctx.clock)
        .with_identity("a")
        .with_room("nope")
        .to_jwt()
    )
    outcome = service.tokens.verify(offline)
    assert outcome.error is not None and outcome.error.code == "unknown_room"
    assert service.tokens.verify(early.token).valid  # the room was created on first use


async def test_verification_never_touches_the_database(service: RoomkeyService) -> None:
    """After warming up, the store is closed and replaced by one that raises on any use."""
    caller = caller_of(service)
    good = await service.tokens.issue(caller, TokenRequest(identity="a", room="r"), "/v1/tokens")
    bad = await service.tokens.issue(caller, TokenRequest(identity="b", room="r"), "/v1/tokens")
    await service.revocations.revoke(caller.project_id, identity="b")
    real = service.ctx.store
    await service.audit.close()
    await real.close()
    service.ctx.store = PoisonedStore()  # type: ignore[assignment]
    try:
        for _ in range(3):
            assert service.tokens.verify(good.token, room="r", identity="a").valid
            outcome = service.tokens.verify(bad.token)
            assert outcome.error is not None and outcome.error.code == "revoked"
            assert service.authenticate(f"Bearer {service.admin_token(caller.project_id)}")
        assert PoisonedStore.touched == []
    finally:
        service.ctx.store = real
        service.audit.start()


class PoisonedStore:
    """Stands in for the database: any use is recorded and fails."""

    touched: list[str] = []  # noqa: RUF012

    def __getattr__(self, name: str) -> Any:
        PoisonedStore.touched.append(name)
        raise AssertionError(f"the verify path used the store: {name}")


async def test_no_token_without_its_audit_row(tmp_path: Path, clock: Clock) -> None:
    """If the audit commit fails, the caller gets an error, never the token."""
    real = await open_store(f"sqlite:///{tmp_path / 'rk.db'}")
    failing = AuditFailingStore(real)
    service = await RoomkeyService.open(make_settings(tmp_path), store=failing, clock=clock)  # type: ignore[arg-type]
    try:
        failing.fail = True
        with pytest.raises(AuditUnavailableError):
            await service.tokens.issue(caller_of(service), TokenRequest(identity="a"), "/v1/tokens")
        failing.fail = False
        await service.tokens.issue(caller_of(service), TokenRequest(identity="a"), "/v1/tokens")
        assert await count_audit(service) == 1
    finally:
        await service.close()


class AuditFailingStore:
    """The real store, except that audit commits can be made to fail (a database outage)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.fail = inner, False

    async def insert_audit_many(self, rows: Sequence[AuditRecord]) -> None:
        if self.fail:
            raise StoreError("database unavailable")
        await self.inner.insert_audit_many(rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_tokens_of_one_project_are_checked_against_its_own_rules(
    service: RoomkeyService,
) -> None:
    """Two projects in one store: revocations and rooms never leak across."""
    a = caller_of(service)
    b, _ = await add_project(service, "prj_second")
    token_a = await service.tokens.issue(a, TokenRequest(identity="alice", room="r"), "x")
    token_b = await service.tokens.issue(b, TokenRequest(identity="alice", room="r"), "x")
    await service.revocations.revoke(b.project_id, identity="alice")
    pa, pb = a.project_id, b.project_id
    assert service.tokens.verify(token_a.token, project=pa).valid
    outcome = service.tokens.verify(token_b.token, project=pb)
    assert outcome.error is not None and outcome.error.code == "revoked"
    await service.rooms.deactivate(a.project_id, "r")
    assert service.tokens.verify(token_a.token, project=pa).error.code == "room_inactive"  # type: ignore[union-attr]
    assert service.tokens.verify(token_b.token, project=pb).error.code == "revoked"  # type: ignore[union-attr]
    # each token is a stranger to the other project, whatever its own state
    assert service.tokens.verify(token_a.token, project=pb).error.code == "wrong_project"  # type: ignore[union-attr]
    assert service.tokens.verify(token_b.token, project=pa).error.code == "wrong_project"  # type: ignore[union-attr]
    with pytest.raises(ProjectRequiredError):
        service.tokens.verify(token_a.token)
    rooms_b, _ = await service.rooms.list_rooms(b.project_id)
    assert [r.active for r in rooms_b] == [True]
    assert NOW  # the clock these tokens were issued under
