"""API keys and signing keys of the caller's project."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from roomkey.api.body import body_doc, json_body
from roomkey.api.deps import KeysCaller, ServiceDep
from roomkey.api.schemas import KeyCreate, KeyCreated, KeyPublic, KeyRotate

router = APIRouter(prefix="/v1/keys", tags=["keys"])


def key_public(record: object) -> KeyPublic:
    """A key record without its secret (the schema names no secret field)."""
    return KeyPublic.model_validate(record, from_attributes=True)


def _created(record: object, secret: str | None) -> KeyCreated:
    created = KeyCreated.model_validate(record, from_attributes=True)
    if secret is None:
        return created
    return created.model_copy(update={"api_key": created.kid, "api_secret": secret})


@router.post(
    "",
    response_model=KeyCreated,
    status_code=201,
    operation_id="create_key",
    openapi_extra=body_doc(KeyCreate),
)
async def create_key(
    caller: KeysCaller,
    body: Annotated[KeyCreate, Depends(json_body(KeyCreate))],
    service: ServiceDep,
) -> KeyCreated:
    """A new API key (its secret is in this response only) or a new signing key."""
    if body.purpose == "signing":
        record = await service.keys.create_signing_key(
            caller.project_id, body.alg, body.description
        )
        return _created(record, None)
    record, secret = await service.keys.create_api_key(caller.project_id, body.description)
    return _created(record, secret)


@router.get("", response_model=list[KeyPublic], operation_id="list_keys")
async def list_keys(caller: KeysCaller, service: ServiceDep) -> list[KeyPublic]:
    """Every key of the project, without secrets."""
    return [key_public(r) for r in await service.keys.list_keys(caller.project_id)]


@router.get("/{kid}", response_model=KeyPublic, operation_id="get_key")
async def get_key(kid: str, caller: KeysCaller, service: ServiceDep) -> KeyPublic:
    """One key, without its secret."""
    return key_public(await service.keys.get(caller.project_id, kid))


@router.post(
    "/{kid}/rotate",
    response_model=KeyCreated,
    status_code=201,
    operation_id="rotate_key",
    openapi_extra=body_doc(KeyRotate),
)
async def rotate_key(
    kid: str,
    caller: KeysCaller,
    body: Annotated[KeyRotate, Depends(json_body(KeyRotate))],
    service: ServiceDep,
) -> KeyCreated:
    """A new key replacing `kid`; the old one verifies until `overlap_s` from now."""
    record, secret = await service.keys.rotate(caller.project_id, kid, body.overlap_s)
    return _created(record, secret)


@router.post("/{kid}/disable", response_model=KeyPublic, operation_id="disable_key")
async def disable_key(kid: str, caller: KeysCaller, service: ServiceDep) -> KeyPublic:
    """Stop a key at once (tokens it signed stop verifying)."""
    return key_public(await service.keys.disable(caller.project_id, kid))


@router.delete(
    "/{kid}",
    status_code=204,
    operation_id="delete_key",
    response_class=Response,
    responses={204: {"description": "Deleted"}},
)
async def delete_key(kid: str, caller: KeysCaller, service: ServiceDep) -> Response:
    """Delete a key for good."""
    await service.keys.delete(caller.project_id, kid)
    return Response(status_code=204)
