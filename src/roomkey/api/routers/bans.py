"""Bans of a room: who may not join it (nor get a token for it) until the ban is lifted."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from roomkey.api.body import body_doc, json_body
from roomkey.api.deps import RoomModerator, ServiceDep
from roomkey.api.schemas import BanCreate, BanPublic
from roomkey.service import BanRecord

router = APIRouter(prefix="/v1/rooms/{room}/bans", tags=["bans"])

LIFT_REVOCATIONS_DOC = (
    "Also lift the revocations the ban made, so that the tokens handed out before the ban "
    "verify again (by default they stay revoked and the participant needs a fresh token)."
)


def ban_public(record: BanRecord) -> BanPublic:
    """A ban as the API shows it."""
    return BanPublic.model_validate(record, from_attributes=True)


@router.get("", response_model=list[BanPublic], operation_id="list_bans")
async def list_bans(room: str, caller: RoomModerator, service: ServiceDep) -> list[BanPublic]:
    """The room's live bans, oldest first."""
    return [ban_public(b) for b in await service.bans.list(caller.project_id, room)]


@router.post(
    "",
    response_model=BanPublic,
    status_code=201,
    operation_id="create_ban",
    openapi_extra=body_doc(BanCreate),
)
async def create_ban(
    room: str,
    caller: RoomModerator,
    body: Annotated[BanCreate, Depends(json_body(BanCreate))],
    service: ServiceDep,
) -> BanPublic:
    """Ban an identity from the room and revoke its tokens for the room.

    Idempotent: an identity already banned keeps its first ban. To remove a participant who is
    in the room and ban it at once, use `DELETE /v1/rooms/{room}/participants/{identity}?ban=true`.
    """
    record = await service.bans.ban(
        caller.project_id, room, body.identity, reason=body.reason, by=caller.label
    )
    return ban_public(record)


@router.delete("/{identity}", response_model=BanPublic, operation_id="lift_ban")
async def lift_ban(
    room: str,
    identity: str,
    caller: RoomModerator,
    service: ServiceDep,
    lift_revocations: Annotated[bool, Query(description=LIFT_REVOCATIONS_DOC)] = False,
) -> BanPublic:
    """Lift a ban: the identity may get tokens for the room and join it again."""
    record = await service.bans.lift(
        caller.project_id, room, identity, lift_revocations=lift_revocations
    )
    return ban_public(record)
