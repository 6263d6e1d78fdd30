"""Custom roles stored per project; token requests may name them."""

from __future__ import annotations

from typing import Any

from roomkey.errors import InvalidRoleError
from roomkey.roles import CustomRole, lookup_preset
from roomkey.service.context import Context
from roomkey.store import NotFoundError, RoleRecord


class RoleService:
    """Create or replace, list, read and delete a project's custom roles."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def put(self, project_id: str, name: str, permissions: dict[str, Any]) -> RoleRecord:
        """Create or replace a role; its permissions are checked like a token request's."""
        project = self.ctx.project(project_id)
        if isinstance(name, str) and lookup_preset(name) is not None:
            raise InvalidRoleError(f"{name!r} is a preset role; choose another name", field="name")
        role = CustomRole.from_permissions(name, permissions)
        existing = await self.ctx.store.get_role(project_id, name)
        now = self.ctx.now()
        record = RoleRecord(
            project_id=project_id,
            name=name,
            permissions=dict(permissions),
            created_at=existing.created_at if existing else now,
            updated_at=now,
        )
        async with self.ctx.write_lock:  # see WriteLock
            stored = await self.ctx.store.upsert_role(record)
            project.roles[name] = role
        return stored

    async def list_roles(self, project_id: str) -> list[RoleRecord]:
        """Every custom role of the project."""
        self.ctx.project(project_id)
        return await self.ctx.store.list_roles(project_id)

    async def get(self, project_id: str, name: str) -> RoleRecord:
        """One role; raises NotFoundError."""
        record = await self.ctx.store.get_role(project_id, name)
        if record is None:
            raise NotFoundError(f"role {name!r} does not exist", resource="role")
        return record

    async def delete(self, project_id: str, name: str) -> None:
        """Delete a role (tokens already issued keep their permissions)."""
        async with self.ctx.write_lock:
            await self.ctx.store.delete_role(project_id, name)
            self.ctx.project(project_id).roles.pop(name, None)


def role_from_record(record: RoleRecord) -> CustomRole:
    """A stored role as a core :class:`CustomRole`."""
    return CustomRole.from_permissions(record.name, record.permissions)
