"""Dashboard pages: signing in and out, the overview, the inspector and the playground."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from roomkey.api.dashboard.forms import token_body
from roomkey.api.dashboard.snippets import snippets
from roomkey.api.dashboard.web import (
    PREFIX,
    SIGN_IN,
    SIGN_IN_COOKIE,
    DashboardRoute,
    Form,
    Visit,
    check_same_origin,
    clear_session_cookie,
    dashboard_of,
    htmx,
    is_secure,
    new_nonce,
    origin_of,
    read_form,
    redirect,
    render,
    set_session_cookie,
    visit,
)
from roomkey.api.deps import TOKENS_ISSUE, TOKENS_VERIFY, Requires
from roomkey.capabilities import Capability
from roomkey.errors import AuthenticationError, RoomkeyError
from roomkey.roles import PRESETS
from roomkey.service import TokenRequest
from roomkey.service.dashboard import PLAYGROUND_MAX_TTL_S, SignedIn

router = APIRouter(prefix=PREFIX, route_class=DashboardRoute, include_in_schema=False)

SIGN_IN_REASONS = {
    "no_session": "Sign in to use the dashboard.",
    "signed_out": "You are signed out.",
    "session_expired": "Your session expired. Sign in again.",
    "bad_session": "Your session is not valid on this server. Sign in again.",
    "revoked": "Your session was ended (signed out, or its token or key was revoked).",
    "expired": "Your session's token expired. Sign in again.",
}
DIALECTS = ("native", "livekit", "videosdk", "huddle01")
PERMISSION_FLAGS = (
    ("can_consume", "subscribe to others' tracks"),
    ("can_produce", "publish tracks"),
    ("can_send_data", "send data messages"),
    ("can_recv_data", "receive data messages"),
    ("can_update_metadata", "change own name and metadata"),
    ("moderate", "moderate (mute, admit from the lobby)"),
    ("admin", "admin of the room (remove, ban, lock)"),
    ("hidden", "hidden participant"),
    ("recorder", "recording bot"),
)
SOURCES = (("cam", "camera"), ("mic", "microphone"), ("screen", "screen share"))
# the playground page is shown to those who may issue (a GET counts no issuance)
ISSUE_PAGE = Requires(Capability.TOKENS_ISSUE)


# ---- signing in and out ---------------------------------------------------------------------


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    """The sign-in form (a server token, or the code of a one-time link)."""
    return _sign_in_form(request, request.query_params.get("reason"))


def _sign_in_form(
    request: Request, reason: str | None, error: str | None = None, status: int = 200
) -> Response:
    nonce = request.cookies.get(SIGN_IN_COOKIE) or new_nonce()
    csrf = dashboard_of(request).sessions.csrf_token(f"sign-in:{nonce}")
    message = SIGN_IN_REASONS.get(reason or "", SIGN_IN_REASONS["revoked"]) if reason else None
    response = render(request, "sign_in.html", status, csrf=csrf, message=message, error=error)
    response.set_cookie(
        SIGN_IN_COOKIE,
        nonce,
        max_age=3600,
        path=SIGN_IN,
        secure=is_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


async def _checked_sign_in_form(request: Request) -> Form:
    check_same_origin(request)
    form = await read_form(request)
    nonce = request.cookies.get(SIGN_IN_COOKIE) or ""
    dashboard_of(request).sessions.check_csrf(f"sign-in:{nonce}", form.get("csrf") or None)
    return form


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Sign in with a pasted server token."""
    form = await _checked_sign_in_form(request)
    try:
        signed = await dashboard_of(request).sessions.sign_in(form.get("token"))
    except RoomkeyError as exc:
        return _sign_in_form(request, None, exc.message, status=401)
    return _signed_in(request, signed)


@router.post("/sign-in/link")
async def sign_in_with_link(request: Request) -> Response:
    """Sign in with the code of a one-time link (``roomkey dashboard``)."""
    form = await _checked_sign_in_form(request)
    try:
        signed = await dashboard_of(request).sessions.redeem_link(form.get("code"))
    except AuthenticationError as exc:
        return _sign_in_form(request, None, exc.message, status=401)
    return _signed_in(request, signed)


def _signed_in(request: Request, signed: SignedIn) -> Response:
    response = redirect(request, PREFIX)
    now = dashboard_of(request).now()
    set_session_cookie(response, request, signed.cookie, signed.session, now)
    response.delete_cookie(SIGN_IN_COOKIE, path=SIGN_IN)
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """End the session here and on every node (its token is revoked)."""
    current = await visit(request)
    await current.dashboard.sessions.sign_out(current.session)
    response = redirect(request, f"{SIGN_IN}?reason=signed_out")
    clear_session_cookie(response, request)
    return response


# ---- overview --------------------------------------------------------------------------------


@router.get("")
async def home(request: Request) -> Response:
    """Who is signed in, to which project, with which capabilities."""
    current = await visit(request)
    project = current.service.projects.get(current.caller.project_id)
    capabilities = sorted(c.value for c in current.caller.capabilities)
    return current.render("home.html", project=project, capabilities=capabilities)


# ---- inspector -------------------------------------------------------------------------------


@router.get("/inspector")
async def inspector_page(request: Request) -> Response:
    """The inspector's form."""
    current = await visit(request)
    await current.require(TOKENS_VERIFY)
    return current.render("inspector.html", result=None, form=Form())


@router.post("/inspector")
async def inspect(request: Request) -> Response:
    """Every check of the verifier on the pasted token, explained (nothing is kept)."""
    current = await visit(request)
    caller = await current.require(TOKENS_VERIFY)
    form = await read_form(request)
    result = await current.dashboard.explainer.explain(
        form.get("token"),
        project=caller.project_id,
        room=form.optional("room"),
        identity=form.optional("identity"),
        scope="api" if form.get("scope") == "api" else "room",
    )
    template = "_inspection.html" if htmx(request) else "inspector.html"
    return current.render(template, result=result, form=form)


# ---- playground ------------------------------------------------------------------------------


@router.get("/playground")
async def playground_page(request: Request) -> Response:
    """The playground's form."""
    current = await visit(request)
    await current.require(ISSUE_PAGE)
    return current.render("playground.html", **await _playground_context(current, Form()))


async def _playground_context(current: Visit, form: Form) -> dict[str, Any]:
    roles = await current.service.roles.list_roles(current.caller.project_id)
    return {
        "form": form,
        "dialects": DIALECTS,
        "presets": sorted(PRESETS),
        "custom_roles": [r.name for r in roles],
        "flags": PERMISSION_FLAGS,
        "sources": SOURCES,
        "max_ttl_s": PLAYGROUND_MAX_TTL_S,
        "minted": None,
        "problem": None,
    }


@router.post("/playground")
async def mint(request: Request) -> Response:
    """Mint a temporary token (capped TTL, audited) and show what it says."""
    current = await visit(request)
    caller = await current.require(TOKENS_ISSUE)
    form = await read_form(request)
    context = await _playground_context(current, form)
    try:
        body = token_body(form)
        minted = await current.dashboard.playground.mint(caller, playground_request(body))
        context["minted"] = minted
        context["snippets"] = snippets(origin_of(request), body)
    except RoomkeyError as exc:
        context["problem"] = exc
    template = "_minted.html" if htmx(request) else "playground.html"
    return current.render(template, status=200 if context["problem"] is None else 400, **context)


def playground_request(body: dict[str, Any]) -> TokenRequest:
    """The playground's ``POST /v1/tokens`` body as the issuing path's request."""
    return TokenRequest(
        identity=body.get("identity"),
        room=body.get("room"),
        dialect=body.get("dialect", "native"),
        role=body.get("role"),
        permissions=body.get("permissions"),
        name=body.get("name"),
        metadata=body.get("metadata"),
        ttl_s=body.get("ttl_s"),
    )
