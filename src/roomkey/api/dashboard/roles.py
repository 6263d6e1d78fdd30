"""Dashboard pages for roles and bans: the presets, the project's custom roles (create or
replace, delete), and a room's bans (ban, lift).

Roles need the ``roles`` capability, bans ``rooms:moderate`` for the room, each through the
API's own pipeline; each form calls the service method the API's route calls, its body checked
by the same schema (:class:`~roomkey.api.schemas.RolePut`, :class:`~roomkey.api.schemas.BanCreate`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from roomkey.api.dashboard.forms import parse, permission_fields
from roomkey.api.dashboard.pages import PERMISSION_FLAGS, SOURCES
from roomkey.api.dashboard.rooms import room_url
from roomkey.api.dashboard.web import (
    PREFIX,
    DashboardRoute,
    Form,
    Visit,
    read_form,
    redirect,
    visit,
)
from roomkey.api.deps import ROLES, ROOMS_MODERATE
from roomkey.api.schemas import BanCreate, RolePut
from roomkey.errors import InvalidRequestError, RoomkeyError
from roomkey.roles import MAX_ROLE_NAME, PRESETS
from roomkey.service.dashboard import grant_words
from roomkey.service.roles import role_from_record

router = APIRouter(prefix=PREFIX, route_class=DashboardRoute, include_in_schema=False)
PRESET_WORDS = [(role.value, grant_words(grant)) for role, grant in PRESETS.items()]

# ---- roles -----------------------------------------------------------------------------------


async def _roles_page(current: Visit, status: int = 200, **context: Any) -> Response:
    caller = await current.require(ROLES)
    records = await current.service.roles.list_roles(caller.project_id)
    custom = [(r, grant_words(role_from_record(r).grant)) for r in records]
    context.setdefault("problem", None)
    context.setdefault("form", Form())
    return current.render(
        "roles.html",
        status,
        presets=PRESET_WORDS,
        custom=custom,
        flags=PERMISSION_FLAGS,
        sources=SOURCES,
        **context,
    )


@router.get("/roles")
async def roles_page(request: Request) -> Response:
    """The preset roles and the project's custom roles."""
    return await _roles_page(await visit(request))


def role_name(form: Form) -> str:
    """The form's role name; raises InvalidRequestError as the API's path check would."""
    name = form.get("name")
    if not name or len(name) > MAX_ROLE_NAME:
        raise InvalidRequestError(
            f"name: a role name has 1 to {MAX_ROLE_NAME} characters, not all whitespace",
            field="name",
        )
    return name


@router.post("/roles")
async def put_role(request: Request) -> Response:
    """Create or replace a custom role (unticked permissions are denied)."""
    current = await visit(request)
    caller = await current.require(ROLES)
    form = await read_form(request)
    try:
        permissions = permission_fields(form)
        if form.get("join") in ("direct", "ask"):
            permissions["join"] = form.get("join")
        body = parse(RolePut, {"permissions": permissions})
        await current.service.roles.put(caller.project_id, role_name(form), body.permissions)
    except RoomkeyError as exc:
        return await _roles_page(current, 400, problem=exc, form=form)
    return redirect(request, f"{PREFIX}/roles")


@router.post("/roles/{name}/delete")
async def delete_role(request: Request, name: str) -> Response:
    """Delete a custom role (tokens already issued keep their permissions)."""
    current = await visit(request)
    caller = await current.require(ROLES)
    await current.service.roles.delete(caller.project_id, name)
    return redirect(request, f"{PREFIX}/roles")


# ---- bans of a room --------------------------------------------------------------------------


@router.post("/rooms/{room}/bans")
async def ban(request: Request, room: str) -> Response:
    """Ban an identity from the room (its tokens for the room are revoked)."""
    current = await visit(request)
    caller = await current.require(ROOMS_MODERATE, room=room)
    form = await read_form(request)
    body = parse(BanCreate, {"identity": form.get("identity"), "reason": form.get("reason")})
    await current.service.bans.ban(
        caller.project_id, room, body.identity, reason=body.reason, by=caller.label
    )
    return redirect(request, f"{room_url(room)}#bans-title")


@router.post("/rooms/{room}/bans/{identity}/lift")
async def lift_ban(request: Request, room: str, identity: str) -> Response:
    """Lift a ban (and, when ticked, the revocations it made)."""
    current = await visit(request)
    caller = await current.require(ROOMS_MODERATE, room=room)
    form = await read_form(request)
    await current.service.bans.lift(
        caller.project_id, room, identity, lift_revocations=form.checked("lift_revocations")
    )
    return redirect(request, f"{room_url(room)}#bans-title")
