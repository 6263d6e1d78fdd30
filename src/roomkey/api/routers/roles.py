"""Custom roles of the caller's project."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from roomkey.api.body import body_doc, json_body
from roomkey.api.constraints import ROLE_NAME_PATTERN
from roomkey.api.deps import RolesCaller, ServiceDep
from roomkey.api.schemas import RolePublic, RolePut
from roomkey.roles import MAX_ROLE_NAME
from roomkey.service import RoleRecord
from roomkey.service.roles import role_from_record

router = APIRouter(prefix="/v1/roles", tags=["roles"])

RoleName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_ROLE_NAME,
        pattern=ROLE_NAME_PATTERN,
        description=f"At most {MAX_ROLE_NAME} characters, not all whitespace.",
    ),
]


def role_public(record: RoleRecord) -> RolePublic:
    """A role with its effective grant."""
    return RolePublic(
        name=record.name,
        permissions=record.permissions,
        grant=role_from_record(record).grant.to_dict(),
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


@router.put(
    "/{name}", response_model=RolePublic, operation_id="put_role", openapi_extra=body_doc(RolePut)
)
async def put_role(
    name: RoleName,
    caller: RolesCaller,
    body: Annotated[RolePut, Depends(json_body(RolePut))],
    service: ServiceDep,
) -> RolePublic:
    """Create or replace a custom role (at most 20 characters; unnamed permissions denied)."""
    return role_public(await service.roles.put(caller.project_id, name, body.permissions))


@router.get("", response_model=list[RolePublic], operation_id="list_roles")
async def list_roles(caller: RolesCaller, service: ServiceDep) -> list[RolePublic]:
    """Every custom role of the project."""
    return [role_public(r) for r in await service.roles.list_roles(caller.project_id)]


@router.get("/{name}", response_model=RolePublic, operation_id="get_role")
async def get_role(name: RoleName, caller: RolesCaller, service: ServiceDep) -> RolePublic:
    """One custom role."""
    return role_public(await service.roles.get(caller.project_id, name))


@router.delete(
    "/{name}",
    status_code=204,
    response_class=Response,
    operation_id="delete_role",
    responses={204: {"description": "Deleted"}},
)
async def delete_role(name: RoleName, caller: RolesCaller, service: ServiceDep) -> Response:
    """Delete a custom role."""
    await service.roles.delete(caller.project_id, name)
    return Response(status_code=204)
