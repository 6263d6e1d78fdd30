"""Dashboard pages for rooms: the list, creating and deactivating, and a room's live page.

A room page lists its participants and its lobby and updates live: its script asks this server
(a same-origin POST with the CSRF token) for a one-minute watch token, opens the room's event
WebSocket and sends that token as its first message, never in the URL; on each event it asks
for the lists again. The admit, reject, mute and remove buttons post here, and each calls the
admission service as the API's moderation routes do, with the session's token as the actor.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from roomkey.api.dashboard.forms import integer, parse
from roomkey.api.dashboard.web import (
    PREFIX,
    DashboardRoute,
    Visit,
    htmx,
    read_form,
    redirect,
    visit,
)
from roomkey.api.deps import ROOMS_MODERATE, ROOMS_READ, ROOMS_WRITE
from roomkey.api.routers.events import PATH as EVENTS_PATH
from roomkey.api.schemas import RoomCreate
from roomkey.errors import ForbiddenError, RoomkeyError
from roomkey.service.admission.rules import Actor

router = APIRouter(prefix=PREFIX, route_class=DashboardRoute, include_in_schema=False)
ROOMS_PAGE = 50


def room_url(room: str) -> str:
    """The dashboard page of ``room``."""
    return f"{PREFIX}/rooms/{quote(room, safe='')}"


async def _rooms_page(current: Visit, status: int = 200, **context: Any) -> Response:
    caller = await current.require(ROOMS_READ)
    cursor = current.request.query_params.get("cursor") or None
    rooms, next_cursor = await current.service.rooms.list_rooms(
        caller.project_id, limit=ROOMS_PAGE, cursor=cursor
    )
    context.setdefault("problem", None)
    return current.render("rooms.html", status, rooms=rooms, next_cursor=next_cursor, **context)


@router.get("/rooms")
async def rooms_page(request: Request) -> Response:
    """A page of rooms, newest first."""
    return await _rooms_page(await visit(request))


@router.post("/rooms")
async def create_room(request: Request) -> Response:
    """Create a room (with a custom id, a repeat finds the existing one)."""
    current = await visit(request)
    caller = await current.require(ROOMS_WRITE)
    form = await read_form(request)
    try:
        body = parse(
            RoomCreate,
            {
                "customRoomId": form.optional("custom_id"),
                "max_participants": integer(form, "max_participants"),
                "locked": form.checked("locked"),
            },
        )
        room, _ = await current.service.rooms.create(
            caller.project_id,
            custom_id=body.customRoomId,
            max_participants=body.max_participants,
            locked=body.locked,
        )
    except RoomkeyError as exc:
        return await _rooms_page(current, 400, problem=exc, form=form)
    return redirect(request, room_url(room.custom_id or room.id))


@router.post("/rooms/{room}/deactivate")
async def deactivate_room(request: Request, room: str) -> Response:
    """Deactivate a room: its tokens are refused, its sessions end."""
    current = await visit(request)
    caller = await current.require(ROOMS_WRITE)
    await current.service.rooms.deactivate(caller.project_id, room)
    return redirect(request, f"{PREFIX}/rooms")


# ---- one room, live ---------------------------------------------------------------------------


def _actor(current: Visit, room: str) -> Actor:
    """The session as the room's actor: the API's moderation pipeline (rooms:moderate)."""
    current.check(ROOMS_MODERATE, room=room)
    actor: Actor = current.service.admission.actor(current.session.header, None, room)
    return actor


def _live(current: Visit, room: str, status: int = 200, **context: Any) -> dict[str, Any]:
    actor = _actor(current, room)
    admission = current.service.admission
    context.setdefault("problem", None)
    return {
        "room": room,
        "participants": admission.participants(actor),
        "lobby": admission.lobby.list(actor),
        **context,
    }


@router.get("/rooms/{room}")
async def room_page(request: Request, room: str) -> Response:
    """A room, its participants and its lobby (updated live by the page's script)."""
    current = await visit(request)
    caller = await current.require(ROOMS_READ)
    record = await current.service.rooms.get(caller.project_id, room)
    events = EVENTS_PATH.replace("{room}", quote(room, safe=""))
    try:
        live = _live(current, room)
        live["bans"] = await current.service.bans.list(caller.project_id, room)
    except ForbiddenError as exc:  # the room, without its live state
        live = {"room": room, "participants": [], "lobby": [], "problem": None, "denied": exc}
    return current.render(
        "room.html", record=record, events_path=events, url=room_url(room), **live
    )


@router.get("/rooms/{room}/live")
async def room_live(request: Request, room: str) -> Response:
    """The participants and the lobby alone (what the page's script swaps in)."""
    current = await visit(request)
    return current.render("_live.html", url=room_url(room), **_live(current, room))


@router.post("/rooms/{room}/watch")
async def watch_token(request: Request, room: str) -> Response:
    """A one-minute watch token for the page's WebSocket (JSON; CSRF and same origin)."""
    current = await visit(request)
    caller = await current.require(ROOMS_MODERATE, room=room)
    token = await current.dashboard.playground.watch_token(caller, room)
    return JSONResponse({"token": token}, headers={"Cache-Control": "no-store"})


async def _acted(current: Visit, room: str, error: RoomkeyError | None = None) -> Response:
    if not htmx(current.request) and error is None:
        return redirect(current.request, room_url(room))
    status = 200 if error is None else 400
    live = _live(current, room, problem=error)
    return current.render("_live.html", status, url=room_url(room), **live)


@router.post("/rooms/{room}/lobby/{session_id}/admit")
async def admit(request: Request, room: str, session_id: str) -> Response:
    """Admit a knock (the first decision wins)."""
    current = await visit(request)
    try:
        await current.service.admission.lobby.admit(_actor(current, room), session_id)
    except RoomkeyError as exc:
        return await _acted(current, room, exc)
    return await _acted(current, room)


@router.post("/rooms/{room}/lobby/{session_id}/reject")
async def reject(request: Request, room: str, session_id: str) -> Response:
    """Reject a knock, with the reason typed."""
    current = await visit(request)
    form = await read_form(request)
    try:
        actor = _actor(current, room)
        await current.service.admission.lobby.reject(actor, session_id, form.optional("reason"))
    except RoomkeyError as exc:
        return await _acted(current, room, exc)
    return await _acted(current, room)


@router.post("/rooms/{room}/participants/{identity}/mute")
async def mute(request: Request, room: str, identity: str) -> Response:
    """Mute sources of a participant (microphone unless others are named)."""
    current = await visit(request)
    form = await read_form(request)
    sources = form.all("sources") or ["mic"]
    try:
        await current.service.admission.moderation.mute(_actor(current, room), identity, sources)
    except RoomkeyError as exc:
        return await _acted(current, room, exc)
    return await _acted(current, room)


@router.post("/rooms/{room}/participants/{identity}/remove")
async def remove(request: Request, room: str, identity: str) -> Response:
    """Remove a participant (and ban it, when ticked)."""
    current = await visit(request)
    form = await read_form(request)
    try:
        await current.service.admission.moderation.remove(
            _actor(current, room), identity, ban=form.checked("ban"), reason=form.get("reason")
        )
    except RoomkeyError as exc:
        return await _acted(current, room, exc)
    return await _acted(current, room)
