"""Projects: reading and changing their policy, creating one with its first keys, the audit log."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from roomkey.errors import ConfigurationError, ForbiddenError
from roomkey.service.auth import Caller
from roomkey.service.context import Context
from roomkey.service.ids import new_id
from roomkey.service.keys import KeyService
from roomkey.service.state import ProjectState
from roomkey.store import AuditRecord, ProjectRecord, ProjectSettings


@dataclass(frozen=True, slots=True)
class Bootstrap:
    """What the first start (or a new project) created, to be shown once."""

    project_id: str
    api_key: str
    api_secret: str
    admin_token: str


class ProjectService:
    """Read and change a project's settings, create projects, read the audit log."""

    def __init__(self, ctx: Context, keys: KeyService) -> None:
        self.ctx, self.keys = ctx, keys

    def ids(self) -> list[str]:
        """Every project on this node, sorted."""
        return sorted(self.ctx.state.projects)

    def get(self, project_id: str) -> ProjectRecord:
        """A project with its settings; raises NotFoundError."""
        return self.ctx.project(project_id).record

    async def update_settings(self, project_id: str, changes: Mapping[str, Any]) -> ProjectRecord:
        """Apply ``changes`` (settings fields) over the project's settings, durably.

        Raises :class:`ConfigurationError` when the result would have ``default_ttl_s`` over
        ``max_ttl_s``, and NotFoundError for an unknown project.
        """
        # under the lock: a reload meanwhile would otherwise swap the old settings back in
        async with self.ctx.write_lock:
            state = self.ctx.project(project_id)
            settings = dataclasses.replace(state.record.settings, **changes)
            if settings.default_ttl_s > settings.max_ttl_s:
                raise ConfigurationError(
                    "default_ttl_s cannot exceed max_ttl_s", field="default_ttl_s"
                )
            state.record = await self.ctx.store.update_project_settings(project_id, settings)
            return state.record

    async def create_as(self, caller: Caller, name: str) -> Bootstrap:
        """A new project created by ``caller``; see :meth:`create`.

        Raises :class:`ForbiddenError` unless the caller belongs to the admin (bootstrap) project.
        """
        if not self.get(caller.project_id).settings.is_admin:
            raise ForbiddenError("only the bootstrap (admin) project may create projects")
        return await self.create(name)

    async def create(self, name: str, *, admin: bool = False) -> Bootstrap:
        """A new project with an API key (secret returned once) and a signing key."""
        project_id = new_id("prj")
        async with self.ctx.write_lock:  # a reload meanwhile would forget the new project
            await self.ensure(project_id, name, admin=admin)
            record, secret = await self.keys.create_api_key(project_id, "first key")
            await self.ensure_signing_key(project_id)
        return Bootstrap(project_id, record.kid, secret, "")

    async def ensure(self, project_id: str, name: str, *, admin: bool = False) -> None:
        """Create the project ``project_id`` unless it exists (bootstrap)."""
        if project_id in self.ctx.state.projects:
            return
        settings = ProjectSettings(is_admin=admin)
        record = await self.ctx.store.create_project(
            ProjectRecord(id=project_id, name=name, created_at=self.ctx.now(), settings=settings)
        )
        self.ctx.state.projects[project_id] = ProjectState(record)

    async def ensure_signing_key(self, project_id: str) -> None:
        """Give the project a signing key unless it has one (bootstrap)."""
        has = any(
            r.project_id == project_id and r.purpose == "signing"
            for r in self.ctx.state.keys.values()
        )
        if not has:
            await self.keys.create_signing_key(project_id, "EdDSA", "bootstrap signing key")

    async def list_audit(
        self,
        project_id: str,
        *,
        limit: int = 50,
        cursor: str | None = None,
        room: str | None = None,
        identity: str | None = None,
        kid: str | None = None,
        issued_from: int | None = None,
        issued_until: int | None = None,
    ) -> tuple[list[AuditRecord], str | None]:
        """A page of the project's issued tokens, newest first, and the next page's cursor;
        filtered by room, identity, signing key, and issue time (inclusive bounds).

        Raises InvalidCursorError for a cursor this store did not hand out.
        """
        return await self.ctx.store.list_audit(
            project_id,
            limit=limit,
            cursor=cursor,
            room=room,
            identity=identity,
            kid=kid,
            issued_from=issued_from,
            issued_until=issued_until,
        )
