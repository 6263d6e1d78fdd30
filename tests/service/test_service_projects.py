"""Project policy, project creation, the sandbox and the issuance limit in the service layer
(rules the API routes used to hold)."""

from __future__ import annotations

from typing import Any

import pytest
from service_support import add_project, caller_of

from roomkey.errors import (
    ConfigurationError,
    ForbiddenError,
    NotFoundError,
    NotReadyError,
    RoomInactiveError,
)
from roomkey.service import RoomkeyService, TokenRequest


class RecordingLimiter:
    """A limiter that lets every hit through and remembers it."""

    def __init__(self) -> None:
        self.hits: list[tuple[str, int]] = []

    async def hit(self, key: str, per_minute: int) -> None:
        self.hits.append((key, per_minute))


async def test_settings_change_keeps_default_ttl_within_max(service: RoomkeyService) -> None:
    project = caller_of(service).project_id
    updated = await service.projects.update_settings(project, {"max_ttl_s": 1200})
    assert (updated.settings.default_ttl_s, updated.settings.max_ttl_s) == (900, 1200)
    for refused in ({"default_ttl_s": 1201}, {"max_ttl_s": 600}):
        with pytest.raises(ConfigurationError) as info:
            await service.projects.update_settings(project, refused)
        assert info.value.details == {"field": "default_ttl_s"}
    assert service.projects.get(project).settings == updated.settings
    stored = await service.ctx.store.get_project(project)
    assert stored is not None and stored.settings == updated.settings


async def test_only_the_admin_project_creates_projects(service: RoomkeyService) -> None:
    other, _ = await add_project(service, "prj_other")
    with pytest.raises(ForbiddenError):
        await service.projects.create_as(other, "nope")
    created = await service.projects.create_as(caller_of(service), "second")
    assert created.project_id in service.projects.ids() and created.api_secret
    assert service.projects.get(created.project_id).name == "second"
    assert not service.projects.get(created.project_id).settings.is_admin


async def test_audit_pages_come_from_the_service(service: RoomkeyService) -> None:
    caller = caller_of(service)
    for identity in ("ann", "bob"):
        await service.tokens.issue(caller, TokenRequest(identity=identity), "/v1/tokens")
    rows, cursor = await service.projects.list_audit(caller.project_id, limit=1)
    assert [r.identity for r in rows] == ["bob"] and cursor is not None
    rest, _ = await service.projects.list_audit(caller.project_id, cursor=cursor)
    assert [r.identity for r in rest] == ["ann"]


async def test_the_sandbox_serves_only_where_enabled_capped_and_limited(
    service: RoomkeyService,
) -> None:
    project, limiter = caller_of(service).project_id, RecordingLimiter()
    request = TokenRequest(identity="guest", room="demo", dialect="livekit", ttl_s=86400)

    async def sandbox(sandbox_id: str | None) -> Any:
        return await service.tokens.issue_sandbox(
            sandbox_id, "10.0.0.1", request, limiter, "/api/v2/sandbox"
        )

    for sandbox_id in (project, "nope", None):
        with pytest.raises(NotFoundError):
            await sandbox(sandbox_id)
    assert limiter.hits == []  # a refused lookup counts nothing
    await service.projects.update_settings(project, {"sandbox_enabled": True, "default_ttl_s": 300})
    minted = await sandbox(project)
    claims = minted.claims
    assert (claims.expires_at or 0) - (claims.issued_at or 0) == 300  # not the 86400 asked
    assert limiter.hits == [(f"sandbox:{project}:10.0.0.1", 60)]
    rows, _ = await service.projects.list_audit(project)
    assert (rows[0].endpoint, rows[0].caller) == ("/api/v2/sandbox", f"{minted.kid}:sandbox")


async def test_issuance_limit_is_the_projects_else_the_servers(service: RoomkeyService) -> None:
    caller, limiter = caller_of(service), RecordingLimiter()
    await service.tokens.count_issuance(caller, limiter)
    await service.projects.update_settings(caller.project_id, {"rate_limit_per_min": 5})
    await service.tokens.count_issuance(caller, limiter)
    assert limiter.hits == [(f"issue:{caller.kid}", 6000), (f"issue:{caller.kid}", 5)]


async def test_validating_a_room_refuses_missing_and_deactivated_rooms(
    service: RoomkeyService,
) -> None:
    project = caller_of(service).project_id
    room, _ = await service.rooms.create(project, custom_id="standup")
    assert (await service.rooms.validate(project, "standup")).id == room.id
    await service.rooms.deactivate(project, room.id)
    with pytest.raises(RoomInactiveError):
        await service.rooms.validate(project, "standup")
    with pytest.raises(NotFoundError):
        await service.rooms.validate(project, "missing")


async def test_readiness_is_the_databases(
    service: RoomkeyService, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready = await service.check_ready()
    assert ready["keys"] == len(service.ctx.state.keyring) > 0

    async def down() -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(service.ctx.store, "ping", down)
    with pytest.raises(NotReadyError) as info:
        await service.check_ready()
    assert info.value.message == "the database does not answer"
