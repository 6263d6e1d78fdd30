"""Revocations of the caller's project."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from roomkey.api.body import body_doc, json_body
from roomkey.api.deps import RevocationsCaller, ServiceDep
from roomkey.api.schemas import RevocationCreate, RevocationPublic

router = APIRouter(prefix="/v1/revocations", tags=["revocations"])


def revocation_public(record: object) -> RevocationPublic:
    """A rule as the API shows it."""
    return RevocationPublic.model_validate(record, from_attributes=True)


@router.post(
    "",
    response_model=RevocationPublic,
    status_code=201,
    operation_id="create_revocation",
    openapi_extra=body_doc(RevocationCreate),
)
async def create_revocation(
    caller: RevocationsCaller,
    body: Annotated[RevocationCreate, Depends(json_body(RevocationCreate))],
    service: ServiceDep,
) -> RevocationPublic:
    """Revoke; persisted before this returns and enforced at once."""
    record = await service.revocations.revoke(
        caller.project_id,
        jti=body.jti,
        identity=body.identity,
        room=body.room,
        kid=body.kid,
        issued_before=body.issued_before,
        reason=body.reason,
    )
    return revocation_public(record)


@router.get("", response_model=list[RevocationPublic], operation_id="list_revocations")
async def list_revocations(
    caller: RevocationsCaller,
    service: ServiceDep,
    include_lifted: Annotated[bool, Query()] = False,
) -> list[RevocationPublic]:
    """The project's revocation rules."""
    records = await service.revocations.list_revocations(caller.project_id, include_lifted)
    return [revocation_public(r) for r in records]


@router.delete("/{revocation_id}", response_model=RevocationPublic, operation_id="lift_revocation")
async def lift_revocation(
    revocation_id: str, caller: RevocationsCaller, service: ServiceDep
) -> RevocationPublic:
    """Lift a rule."""
    return revocation_public(await service.revocations.lift(caller.project_id, revocation_id))
