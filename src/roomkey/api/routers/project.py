"""The caller's project: settings and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from roomkey.api.body import body_doc, json_body
from roomkey.api.constraints import CURSOR_PATTERN
from roomkey.api.deps import AdminCaller, AuditReader, ProjectCaller, ServiceDep
from roomkey.api.schemas import (
    AuditPage,
    AuditPublic,
    ProjectCreate,
    ProjectCreated,
    ProjectPublic,
    ProjectSettingsUpdate,
)
from roomkey.service import ProjectRecord

router = APIRouter(prefix="/v1", tags=["project"])


def project_public(record: ProjectRecord) -> ProjectPublic:
    """A project as the API shows it."""
    return ProjectPublic(
        id=record.id,
        name=record.name,
        created_at=record.created_at,
        settings=record.settings.to_json(),
    )


@router.get("/project", response_model=ProjectPublic, operation_id="get_project")
async def get_project(caller: ProjectCaller, service: ServiceDep) -> ProjectPublic:
    """The caller's project and its settings."""
    return project_public(service.projects.get(caller.project_id))


@router.patch(
    "/project",
    response_model=ProjectPublic,
    operation_id="update_project",
    openapi_extra=body_doc(ProjectSettingsUpdate),
)
async def update_project(
    caller: ProjectCaller,
    body: Annotated[ProjectSettingsUpdate, Depends(json_body(ProjectSettingsUpdate))],
    service: ServiceDep,
) -> ProjectPublic:
    """Change project policy (TTLs, auto-created rooms, sandbox, rate limit)."""
    changes = body.model_dump(exclude_none=True)
    return project_public(await service.projects.update_settings(caller.project_id, changes))


# the databases' 64-bit integers: a moment beyond is refused (422), never sent to the store
MAX_EPOCH_S = 2**63 - 1


@router.get("/audit", response_model=AuditPage, operation_id="list_audit")
async def list_audit(
    caller: AuditReader,
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512, pattern=CURSOR_PATTERN)] = None,
    room: Annotated[str | None, Query(max_length=256)] = None,
    identity: Annotated[str | None, Query(max_length=256)] = None,
    kid: Annotated[str | None, Query(max_length=256, description="The signing key.")] = None,
    issued_from: Annotated[
        int | None,
        Query(ge=0, le=MAX_EPOCH_S, description="Issued at or after (epoch seconds)."),
    ] = None,
    issued_until: Annotated[
        int | None,
        Query(ge=0, le=MAX_EPOCH_S, description="Issued at or before (epoch seconds)."),
    ] = None,
) -> AuditPage:
    """Issued tokens, newest first; filtered by room, identity, key and issue time."""
    rows, next_cursor = await service.projects.list_audit(
        caller.project_id,
        limit=limit,
        cursor=cursor,
        room=room,
        identity=identity,
        kid=kid,
        issued_from=issued_from,
        issued_until=issued_until,
    )
    data = [AuditPublic.model_validate(row, from_attributes=True) for row in rows]
    return AuditPage(data=data, next_cursor=next_cursor)


@router.post(
    "/projects",
    response_model=ProjectCreated,
    status_code=201,
    operation_id="create_project",
    openapi_extra=body_doc(ProjectCreate),
)
async def create_project(
    caller: AdminCaller,
    body: Annotated[ProjectCreate, Depends(json_body(ProjectCreate))],
    service: ServiceDep,
) -> ProjectCreated:
    """A new project with its first API key (callers of the bootstrap project only)."""
    created = await service.projects.create_as(caller, body.name)
    return ProjectCreated(
        id=created.project_id,
        name=body.name,
        api_key=created.api_key,
        api_secret=created.api_secret,
    )
