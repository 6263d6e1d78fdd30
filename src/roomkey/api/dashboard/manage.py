"""Dashboard pages that manage the project: keys, revocations, the audit log, settings."""

from __future__ import annotations

import calendar
import time
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from roomkey.api.dashboard.forms import integer, parse
from roomkey.api.dashboard.web import (
    PREFIX,
    DashboardRoute,
    Form,
    Visit,
    htmx,
    read_form,
    redirect,
    visit,
)
from roomkey.api.deps import AUDIT_READ, KEYS, PROJECT, REVOCATIONS
from roomkey.api.schemas import (
    KeyCreate,
    KeyRotate,
    ProjectSettingsUpdate,
    RevocationCreate,
)
from roomkey.errors import InvalidRequestError, RoomkeyError

router = APIRouter(prefix=PREFIX, route_class=DashboardRoute, include_in_schema=False)
AUDIT_PAGE = 50

# ---- keys ------------------------------------------------------------------------------------


async def _keys_page(current: Visit, status: int = 200, **context: Any) -> Response:
    caller = await current.require(KEYS)
    records = await current.service.keys.list_keys(caller.project_id)
    jwks = [r.public_jwk for r in records if r.public_jwk and r.status == "active"]
    context.setdefault("created", None)
    context.setdefault("problem", None)
    template = "_keys_changed.html" if htmx(current.request) else "keys.html"
    return current.render(template, status, keys=records, jwks=jwks, **context)


@router.get("/keys")
async def keys_page(request: Request) -> Response:
    """The project's keys and its JWKS."""
    return await _keys_page(await visit(request))


@router.post("/keys")
async def create_key(request: Request) -> Response:
    """A new API key (its secret in this answer only) or signing key."""
    current = await visit(request)
    caller = await current.require(KEYS)
    form = await read_form(request)
    try:
        body = parse(
            KeyCreate,
            {
                "purpose": form.get("purpose", "api"),
                "alg": form.get("alg", "EdDSA") or "EdDSA",
                "description": form.get("description"),
            },
        )
        if body.purpose == "signing":
            record = await current.service.keys.create_signing_key(
                caller.project_id, body.alg, body.description
            )
            return await _keys_page(current, created={"record": record, "secret": None})
        record, secret = await current.service.keys.create_api_key(
            caller.project_id, body.description
        )
    except RoomkeyError as exc:
        return await _keys_page(current, 400, problem=exc)
    return await _keys_page(current, created={"record": record, "secret": secret})


@router.post("/keys/{kid}/rotate")
async def rotate_key(request: Request, kid: str) -> Response:
    """A new key replacing ``kid``; the old one verifies during the overlap."""
    current = await visit(request)
    caller = await current.require(KEYS)
    form = await read_form(request)
    try:
        overlap = parse(KeyRotate, {"overlap_s": integer(form, "overlap_s") or 0}).overlap_s
        record, secret = await current.service.keys.rotate(caller.project_id, kid, overlap)
    except RoomkeyError as exc:
        return await _keys_page(current, 400, problem=exc)
    return await _keys_page(current, created={"record": record, "secret": secret})


@router.post("/keys/{kid}/disable")
async def disable_key(request: Request, kid: str) -> Response:
    """Stop a key at once."""
    current = await visit(request)
    caller = await current.require(KEYS)
    try:
        await current.service.keys.disable(caller.project_id, kid)
    except RoomkeyError as exc:
        return await _keys_page(current, 400, problem=exc)
    return await _keys_page(current)


@router.post("/keys/{kid}/delete")
async def delete_key(request: Request, kid: str) -> Response:
    """Delete a key for good."""
    current = await visit(request)
    caller = await current.require(KEYS)
    try:
        await current.service.keys.delete(caller.project_id, kid)
    except RoomkeyError as exc:
        return await _keys_page(current, 400, problem=exc)
    return await _keys_page(current)


# ---- revocations -----------------------------------------------------------------------------


async def _revocations_page(current: Visit, status: int = 200, **context: Any) -> Response:
    caller = await current.require(REVOCATIONS)
    lifted = current.request.query_params.get("lifted") == "1"
    records = await current.service.revocations.list_revocations(caller.project_id, lifted)
    context.setdefault("problem", None)
    return current.render(
        "revocations.html", status, revocations=records, include_lifted=lifted, **context
    )


@router.get("/revocations")
async def revocations_page(request: Request) -> Response:
    """The project's revocation rules."""
    return await _revocations_page(await visit(request))


@router.post("/revocations")
async def create_revocation(request: Request) -> Response:
    """Revoke: persisted, then enforced at once."""
    current = await visit(request)
    caller = await current.require(REVOCATIONS)
    form = await read_form(request)
    now = int(current.dashboard.now())
    try:
        body = parse(
            RevocationCreate,
            {
                "jti": form.optional("jti"),
                "identity": form.optional("identity"),
                "room": form.optional("room"),
                "kid": form.optional("kid"),
                "issued_before": now if form.checked("issued_before_now") else None,
                "reason": form.get("reason"),
            },
        )
        await current.service.revocations.revoke(caller.project_id, **body.model_dump())
    except RoomkeyError as exc:
        return await _revocations_page(current, 400, problem=exc, form=form)
    return redirect(request, f"{PREFIX}/revocations")


@router.post("/revocations/{revocation_id}/lift")
async def lift_revocation(request: Request, revocation_id: str) -> Response:
    """Lift a rule."""
    current = await visit(request)
    caller = await current.require(REVOCATIONS)
    await current.service.revocations.lift(caller.project_id, revocation_id)
    return redirect(request, f"{PREFIX}/revocations")


# ---- audit -----------------------------------------------------------------------------------


def utc_input(form: Form, name: str) -> int | None:
    """A ``datetime-local`` field read as UTC epoch seconds (the page labels it UTC)."""
    text = form.get(name)
    if not text:
        return None
    for layout in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return calendar.timegm(time.strptime(text, layout))
        except ValueError:
            continue
    raise InvalidRequestError(f"{name}: {text!r} is not a date and time", field=name)


@router.get("/audit")
async def audit_page(request: Request) -> Response:
    """Issued tokens, newest first, filtered and paginated."""
    current = await visit(request)
    caller = await current.require(AUDIT_READ)
    query = Form({k: request.query_params.getlist(k) for k in request.query_params})
    rows, next_cursor = await current.service.projects.list_audit(
        caller.project_id,
        limit=AUDIT_PAGE,
        cursor=query.optional("cursor"),
        room=query.optional("room"),
        identity=query.optional("identity"),
        kid=query.optional("kid"),
        issued_from=utc_input(query, "from"),
        issued_until=utc_input(query, "until"),
    )
    kept = {k: v for k, v in request.query_params.items() if k != "cursor" and v}
    return current.render("audit.html", rows=rows, next_cursor=next_cursor, query=query, kept=kept)


# ---- settings --------------------------------------------------------------------------------

SETTING_FLAGS = (
    "auto_create_rooms",
    "sandbox_enabled",
    "videosdk_roleless_api",
    "locked_lobby",
    "eject_at_token_exp",
)
SETTING_NUMBERS = ("default_ttl_s", "max_ttl_s", "rate_limit_per_min", "knock_timeout_s")


async def _settings_page(current: Visit, status: int = 200, **context: Any) -> Response:
    caller = await current.require(PROJECT)
    project = current.service.projects.get(caller.project_id)
    context.setdefault("problem", None)
    context.setdefault("saved", False)
    return current.render("settings.html", status, project=project, **context)


@router.get("/settings")
async def settings_page(request: Request) -> Response:
    """The project's settings."""
    return await _settings_page(await visit(request))


@router.post("/settings")
async def update_settings(request: Request) -> Response:
    """Change the project's policy (the API's own validation)."""
    current = await visit(request)
    caller = await current.require(PROJECT)
    form = await read_form(request)
    try:
        changes: dict[str, Any] = {name: form.checked(name) for name in SETTING_FLAGS}
        changes.update({name: integer(form, name) for name in SETTING_NUMBERS})
        changes["admit_policy"] = form.optional("admit_policy")
        changes["platform_token"] = form.optional("platform_token")
        body = parse(ProjectSettingsUpdate, changes)
        await current.service.projects.update_settings(
            caller.project_id, body.model_dump(exclude_none=True)
        )
    except RoomkeyError as exc:
        return await _settings_page(current, 400, problem=exc)
    return await _settings_page(current, saved=True)
