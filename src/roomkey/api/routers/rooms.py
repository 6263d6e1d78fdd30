"""Rooms of the caller's project."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from roomkey.api.body import body_doc, json_body
from roomkey.api.constraints import CURSOR_PATTERN
from roomkey.api.deps import RoomsReader, RoomsWriter, ServiceDep
from roomkey.api.schemas import RoomCreate, RoomPage, RoomPublic
from roomkey.service import RoomRecord

router = APIRouter(prefix="/v1/rooms", tags=["rooms"])


def room_public(room: RoomRecord) -> RoomPublic:
    """A room as the API shows it (VideoSDK's field names)."""
    return RoomPublic(
        roomId=room.id,
        customRoomId=room.custom_id,
        metadata=room.metadata,
        max_participants=room.max_participants,
        locked=room.locked,
        active=room.active,
        created_at=room.created_at,
        deactivated_at=room.deactivated_at,
    )


@router.post(
    "",
    response_model=RoomPublic,
    status_code=201,
    operation_id="create_room",
    responses={200: {"model": RoomPublic, "description": "Already existed"}},
    openapi_extra=body_doc(RoomCreate),
)
async def create_room(
    caller: RoomsWriter,
    body: Annotated[RoomCreate, Depends(json_body(RoomCreate))],
    service: ServiceDep,
    response: Response,
) -> RoomPublic:
    """Create a room; with `customRoomId`, a repeat returns the existing room (200)."""
    room, created = await service.rooms.create(
        caller.project_id,
        custom_id=body.customRoomId,
        metadata=body.metadata,
        max_participants=body.max_participants,
        locked=body.locked,
    )
    response.status_code = 201 if created else 200
    return room_public(room)


@router.get("", response_model=RoomPage, operation_id="list_rooms")
async def list_rooms(
    caller: RoomsReader,
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512, pattern=CURSOR_PATTERN)] = None,
) -> RoomPage:
    """A page of rooms, newest first."""
    rooms, next_cursor = await service.rooms.list_rooms(
        caller.project_id, limit=limit, cursor=cursor
    )
    return RoomPage(data=[room_public(r) for r in rooms], next_cursor=next_cursor)


@router.get("/validate/{room_id}", response_model=RoomPublic, operation_id="validate_room")
async def validate_room(room_id: str, caller: RoomsReader, service: ServiceDep) -> RoomPublic:
    """The room if it exists and is active (404 or 409 otherwise)."""
    return room_public(await service.rooms.validate(caller.project_id, room_id))


@router.get("/{room_id}", response_model=RoomPublic, operation_id="get_room")
async def get_room(room_id: str, caller: RoomsReader, service: ServiceDep) -> RoomPublic:
    """A room by id or custom id."""
    return room_public(await service.rooms.get(caller.project_id, room_id))


@router.post("/{room_id}/deactivate", response_model=RoomPublic, operation_id="deactivate_room")
async def deactivate_room(room_id: str, caller: RoomsWriter, service: ServiceDep) -> RoomPublic:
    """Deactivate a room: its tokens are refused from now on."""
    return room_public(await service.rooms.deactivate(caller.project_id, room_id))
