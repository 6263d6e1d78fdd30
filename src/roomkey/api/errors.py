"""One JSON error shape for the whole API: ``{"error": code, "message": ..., "details": ...}``.

Every roomkey error maps to a status by its code; validation errors, unknown routes and anything
unexpected are translated here too, so no client input can produce a bare framework error.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from roomkey.api.responses import FastJSONResponse
from roomkey.api.schemas import ErrorPublic
from roomkey.errors import RoomkeyError, TokenError

log = logging.getLogger("roomkey.api")

STATUS_BY_CODE: dict[str, int] = {
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "unknown_room": 404,
    "unknown_project": 404,
    "conflict": 409,
    "wrong_room": 403,
    "room_inactive": 409,
    "body_too_large": 413,
    "validation_error": 422,
    "rate_limited": 429,
    "audit_unavailable": 503,
    "store_error": 503,
}


class ApiError(RoomkeyError):
    """An HTTP-level error with its own code (body too large, rate limited, ...)."""

    def __init__(self, code: str, message: str, status: int, **details: Any) -> None:
        super().__init__(message, **details)
        self.code = code  # type: ignore[misc]
        self.status = status


def status_for(exc: RoomkeyError) -> int:
    """The HTTP status for a roomkey error."""
    if isinstance(exc, ApiError):
        return exc.status
    if exc.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[exc.code]
    if isinstance(exc, TokenError):
        return 401
    return 400


def error_response(
    code: str, message: str, status: int, details: Any = None, headers: dict[str, str] | None = None
) -> FastJSONResponse:
    """The one error shape."""
    body = {"error": code, "message": message, "details": details or {}}
    return FastJSONResponse(body, status_code=status, headers=headers)


async def _roomkey_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, RoomkeyError)
    headers = None
    if exc.code == "rate_limited":
        headers = {"Retry-After": str(exc.details.get("retry_after_s", 1))}
    return error_response(exc.code, exc.message, status_for(exc), exc.details, headers)


async def _validation_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
            "problem": e.get("msg", "invalid"),
        }
        for e in exc.errors()
    ]
    first = problems[0] if problems else {"field": "", "problem": "invalid"}
    where = f"{first['field']}: " if first["field"] else ""
    return error_response(
        "validation_error", f"{where}{first['problem']}", 422, {"problems": problems}
    )


async def _http_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # every method of the path, not only the first route's
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return error_response(code, str(exc.detail), exc.status_code, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """The documented methods of the requested path (from the app's OpenAPI document)."""
    got = request.url.path.strip("/").split("/")
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        want = template.strip("/").split("/")
        same = len(want) == len(got)
        if same and all(w[:1] == "{" or w == g for w, g in zip(want, got, strict=True)):
            methods |= {m.upper() for m in operations if m in _HTTP_METHODS}
    return sorted(methods)


_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


async def _unexpected(request: Request, exc: Exception) -> FastJSONResponse:
    log.error(
        "unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc
    )
    return error_response("internal_error", "the server failed to handle this request", 500)


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception type to the one shape."""
    app.add_exception_handler(RoomkeyError, _roomkey_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


class ErrorBody(dict[str, Any]):
    """Marker for documentation only."""


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorPublic, "description": desc}
    for status, desc in (
        (400, "Bad request"),
        (401, "Token is invalid or expired"),
        (403, "Forbidden"),
        (404, "Not found"),
        (409, "Conflict"),
        (413, "Body too large"),
        (422, "Validation error"),
        (429, "Rate limited"),
    )
}
