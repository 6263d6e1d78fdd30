"""What every dashboard page shares: the session, the capability check, CSRF, headers, errors.

A page opens the session from its cookie and asks for the capability it needs through the API's
own :class:`~roomkey.api.deps.Requires` object, given the session's token as the
``Authorization`` header: the very pipeline of the API route that does the same thing, so a
page can do exactly what the signed-in token can. Hidden buttons are a courtesy, not the
protection.

Every answer carries a Content-Security-Policy without inline scripts or styles,
``frame-ancestors 'none'`` and ``Cache-Control: no-store`` (so a secret shown once never sits
in a cache); every state change needs the CSRF token of the session and a same-origin request.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from roomkey.api.deps import Requires
from roomkey.api.errors import status_for
from roomkey.capabilities import Capability
from roomkey.errors import (
    AuthenticationError,
    ForbiddenError,
    InvalidRequestError,
    RoomkeyError,
)
from roomkey.service import Caller, RoomkeyService
from roomkey.service.dashboard import (
    DashboardService,
    DashboardSession,
    duration_words,
    moment_words,
)

PREFIX = "/dashboard"
SIGN_IN = f"{PREFIX}/sign-in"
COOKIE = "roomkey_dashboard"
SECURE_COOKIE = "__Host-roomkey_dashboard"  # the __Host- prefix: Secure, Path=/, no Domain
SIGN_IN_COOKIE = "roomkey_dashboard_sign_in"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_FORM_FIELDS = 200
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _iso(epoch: float | None) -> str:
    return "" if epoch is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _utc(epoch: float | None) -> str:
    return "" if epoch is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


templates.filters["iso"] = _iso
templates.filters["utc"] = _utc
templates.globals["moment_words"] = moment_words
templates.globals["duration_words"] = duration_words


def dashboard_of(request: Request) -> DashboardService:
    """The app's dashboard service (built over the app's service on first use)."""
    dashboard: DashboardService | None = getattr(request.app.state, "dashboard", None)
    service: RoomkeyService = request.app.state.service
    if dashboard is None or dashboard.service is not service:
        dashboard = request.app.state.dashboard = DashboardService(service)
    return dashboard


# ---- transport: TLS, origin, cookies, forms --------------------------------------------------


def is_secure(request: Request) -> bool:
    """Whether the browser reached us over TLS (directly, or through a proxy that says so)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme in ("https", "wss") or forwarded == "https"


def origin_of(request: Request) -> str:
    """This server's origin as the browser sees it."""
    scheme = "https" if is_secure(request) else "http"
    return f"{scheme}://{request.headers.get('host', request.url.netloc)}"


def check_same_origin(request: Request) -> None:
    """Refuse a state change that another origin's page sent (ForbiddenError, reason csrf)."""
    origin = request.headers.get("origin")
    site = request.headers.get("sec-fetch-site")
    if (origin is not None and origin != origin_of(request)) or site not in (
        None,
        "same-origin",
        "none",
    ):
        raise ForbiddenError(
            "a request from another origin cannot change anything here", reason="csrf"
        )


def cookie_name(request: Request) -> str:
    """The session cookie's name (``__Host-`` prefixed over TLS)."""
    return SECURE_COOKIE if is_secure(request) else COOKIE


def set_session_cookie(
    response: Response, request: Request, value: str, session: DashboardSession, now: float
) -> None:
    """Put the sealed session in an HttpOnly, SameSite=Strict cookie (Secure over TLS)."""
    response.set_cookie(
        cookie_name(request),
        value,
        max_age=max(int(session.expires_at - now), 0),
        path="/",
        secure=is_secure(request),
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """Forget the session cookie in the browser."""
    response.delete_cookie(
        cookie_name(request), path="/", secure=is_secure(request), httponly=True, samesite="strict"
    )


@dataclass(frozen=True)
class Form:
    """An ``application/x-www-form-urlencoded`` body."""

    values: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        """The first value of ``name``, stripped."""
        found = self.values.get(name)
        return found[0].strip() if found else default

    def optional(self, name: str) -> str | None:
        """The first value of ``name``, or None when empty or absent."""
        return self.get(name) or None

    def all(self, name: str) -> list[str]:
        """Every value of ``name`` (checkbox groups)."""
        return self.values.get(name, [])

    def checked(self, name: str) -> bool:
        """Whether the checkbox ``name`` was ticked."""
        return name in self.values


async def read_form(request: Request) -> Form:
    """The request's form (the app's body cap applies); raises InvalidRequestError for one
    with too many fields."""
    body = await request.body()
    text = body.decode("utf-8", "replace")
    try:
        return Form(parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
    except ValueError:
        raise InvalidRequestError(f"a form has at most {MAX_FORM_FIELDS} fields") from None


# ---- the signed-in visit ---------------------------------------------------------------------


@dataclass
class Visit:
    """One request of a signed-in session."""

    request: Request
    dashboard: DashboardService
    session: DashboardSession
    caller: Caller
    csrf: str

    @property
    def service(self) -> RoomkeyService:
        """The server's service."""
        return self.dashboard.service

    async def require(self, requires: Requires, room: str | None = None) -> Caller:
        """The API's own pipeline for ``requires`` run on the session's token (403 without)."""
        header = self.session.header.encode("latin-1")
        scope = {"headers": [(b"authorization", header)], "path_params": {"room": room}}
        return await requires.resolve(self.service, scope, self.request.app.state.limiter)

    def check(self, requires: Requires, room: str | None = None) -> Caller:
        """:meth:`require` for a pipeline that counts nothing (no wait)."""
        assert not requires.issues, "an issuing pipeline counts: use require"
        header = self.session.header.encode("latin-1")
        scope = {"headers": [(b"authorization", header)], "path_params": {"room": room}}
        return requires.authorize(self.service, scope)

    def holds(self, capability: Capability) -> bool:
        """Whether the session holds ``capability`` (to show or hide a link, nothing more)."""
        return self.caller.may(capability, room=self.caller.room)

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        """A page or fragment of the signed-in dashboard."""
        return render(self.request, template, status, visit=self, csrf=self.csrf, **context)


async def visit(request: Request) -> Visit:
    """The signed-in visit of ``request``; for a state change, its origin and CSRF checked.

    Raises AuthenticationError (no session, expired, or its token no longer valid: signed out,
    revoked, key disabled) and ForbiddenError (CSRF).
    """
    dashboard = dashboard_of(request)
    session = dashboard.sessions.open(request.cookies.get(cookie_name(request)))
    caller = dashboard.sessions.caller_of(session)
    csrf = dashboard.sessions.csrf_token(session.jti)
    if request.method in UNSAFE_METHODS:
        check_same_origin(request)
        sent = request.headers.get(CSRF_HEADER)
        if sent is None:
            sent = (await read_form(request)).get(CSRF_FIELD) or None
        dashboard.sessions.check_csrf(session.jti, sent)
    return Visit(request, dashboard, session, caller, csrf)


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` (autoescaped) as an HTML answer."""
    context.setdefault("visit", None)
    context.setdefault("csrf", None)
    context.setdefault("path", request.url.path)
    context.setdefault("now", dashboard_of(request).now())
    html = templates.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status)


def htmx(request: Request) -> bool:
    """Whether the request came from htmx (answer a fragment, not a page)."""
    return request.headers.get("hx-request") == "true"


def redirect(request: Request, url: str) -> Response:
    """Go to ``url`` (a 303; for htmx, its own redirect header)."""
    if htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def new_nonce() -> str:
    """A random value binding a sign-in form to its browser."""
    return secrets.token_urlsafe(24)


# ---- every answer: headers and errors ---------------------------------------------------------


def content_security_policy(request: Request) -> str:
    """No inline script or style, nothing from elsewhere, never framed."""
    host = request.headers.get("host", request.url.netloc)
    socket = f"{'wss' if is_secure(request) else 'ws'}://{host}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {socket}; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    )


def secure_headers(response: Response, request: Request) -> None:
    """The headers of every dashboard answer."""
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(request)
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    # not no-referrer: with it, Chromium sends "Origin: null" on form posts
    headers["Referrer-Policy"] = "same-origin"
    headers["Cache-Control"] = "no-store"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"


def error_page(request: Request, exc: RoomkeyError) -> Response:
    """A refusal as a page: to the sign-in page when there is no session, else what failed."""
    if isinstance(exc, AuthenticationError):
        reason = str(exc.details.get("reason") or "no_session")
        response = redirect(request, f"{SIGN_IN}?reason={quote(reason)}")
        if reason != "no_session":
            clear_session_cookie(response, request)
        return response
    status = status_for(exc)
    title = "Not allowed" if isinstance(exc, ForbiddenError) else "That did not work"
    missing = exc.details.get("missing")
    return render(request, "error.html", status, title=title, error=exc, missing=missing)


Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class DashboardRoute(APIRoute):
    """A dashboard route: roomkey errors become pages, and every answer gets the headers."""

    def get_route_handler(self) -> Endpoint:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                response = await handler(request)
            except RoomkeyError as exc:
                response = error_page(request, exc)
            secure_headers(response, request)
            return response

        return guarded
