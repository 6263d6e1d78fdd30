"""One JSON error shape for the whole API: ``{"error": code, "message": ..., "details": ...}``.

Every roomkey error maps to a status by its code, in one table (:data:`HTTP_STATUS`); validation
errors, unknown routes and anything unexpected become named roomkey errors here too, so no client
input can produce a bare framework error. The body is always the error's own ``to_dict()``.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from roomkey.api.responses import FastJSONResponse
from roomkey.api.schemas import ErrorPublic
from roomkey.errors import (
    HttpError,
    InternalServerError,
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    RateLimitedError,
    RoomkeyError,
)

log = logging.getLogger("roomkey.api")

# The HTTP status of every error code, in the order of the tree in roomkey.errors: the one table
# (docs/api.md lists it; a test fails when an error class has no row here).
HTTP_STATUS: dict[str, int] = {
    "invalid_session": 401,
    "roomkey_error": 400,
    # configuration and input
    "invalid_configuration": 400,
    "invalid_grant": 400,
    "invalid_role": 400,
    "invalid_claim_value": 400,
    "nested_too_deep": 400,
    "metadata_too_large": 400,
    "unsupported_by_dialect": 400,
    "key_error": 400,
    "weak_key": 400,
    "invalid_key": 400,
    "unknown_key_id": 400,
    # verification: the token is refused (401), or what it names is not usable
    "invalid_token": 401,
    "token_too_large": 401,
    "malformed": 401,
    "forbidden_header": 401,
    "disallowed_algorithm": 401,
    "bad_signature": 401,
    "invalid_claims": 401,
    "missing_claim": 401,
    "expired": 401,
    "not_yet_valid": 401,
    "lifetime_too_long": 401,
    "wrong_issuer": 401,
    "wrong_audience": 401,
    "wrong_scope": 401,
    "wrong_room": 403,
    "wrong_identity": 401,
    "revoked": 401,
    "room_inactive": 409,
    "unknown_room": 404,
    "wrong_project": 401,
    # the server: callers, projects, storage
    "unauthorized": 401,
    "forbidden": 403,
    "banned": 403,
    "project_required": 400,
    "unknown_project": 404,
    "audit_unavailable": 503,
    "store_error": 503,
    "not_found": 404,
    "conflict": 409,
    "invalid_cursor": 400,
    "not_ready": 503,
    # reading the request
    "validation_error": 422,
    "body_too_large": 413,
    "duplicate_header": 400,
    "rate_limited": 429,
    "method_not_allowed": 405,
    "malformed_request": 400,  # answered by the HTTP server itself (roomkey.api.edge)
    "http_error": 400,  # answered with the framework's own status, a 4xx
    "internal_error": 500,
    # admission: a join refused, a knock decided twice, a moderation rule
    "admission_refused": 403,
    "rejected": 403,
    "room_locked": 403,
    "room_full": 403,
    "already_decided": 409,
    "admission_unavailable": 503,
    "not_in_room": 404,
    "moderation_refused": 403,
    # webhooks: an endpoint refused; verification errors are raised to receivers, not served
    "webhook_error": 400,
    "webhook_url_refused": 400,
    "webhook_invalid": 400,
    "webhook_bad_header": 400,
    "webhook_timestamp_out_of_window": 400,
    "webhook_bad_signature": 400,
    # live event streams: sent in an error frame over the WebSocket, never as an HTTP answer
    "bad_frame": 400,
    "unknown_message_type": 400,
    "frame_too_large": 413,
}


def status_for(exc: RoomkeyError) -> int:
    """The HTTP status for a roomkey error (its code's row, else its nearest ancestor's)."""
    for cls in type(exc).__mro__:
        code = getattr(cls, "code", None)
        if code in HTTP_STATUS:
            return HTTP_STATUS[code]
    return HTTP_STATUS[RoomkeyError.code]  # pragma: no cover - the root has a row


def error_response(
    error: RoomkeyError, *, status: int | None = None, headers: dict[str, str] | None = None
) -> FastJSONResponse:
    """The one error shape for ``error``, with its status from the table unless ``status``."""
    status = status_for(error) if status is None else status
    return FastJSONResponse(error.to_dict(), status_code=status, headers=headers)


async def _roomkey_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, RoomkeyError)
    headers = None
    if isinstance(exc, RateLimitedError):
        headers = {"Retry-After": str(exc.details.get("retry_after_s", 1))}
    return error_response(exc, headers=headers)


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
    return error_response(InvalidRequestError(f"{where}{first['problem']}", problems=problems))


async def _http_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind = {404: NotFoundError, 405: MethodNotAllowedError}.get(exc.status_code, HttpError)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # every method of the path, not only the first route's
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return error_response(kind(str(exc.detail)), status=exc.status_code, headers=headers)


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
    return error_response(InternalServerError("the server failed to handle this request"))


class FieldsAsSent:
    """Errors raised inside name the request's own fields (``names``: the core's → the body's).

    The core names what it checks by its own field names (``room``, ``identity``); a route
    whose body spells them otherwise (LiveKit's ``room_name``) wraps its call in this, so the
    caller reads the field it sent, in ``details.field`` and at the head of the message. A class
    rather than ``@contextmanager``: it wraps the hot ``/token`` path, where a generator-based
    manager costs a microsecond a request.
    """

    __slots__ = ("names",)

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if not isinstance(exc, RoomkeyError):
            return
        field = exc.details.get("field")
        if isinstance(field, str) and field in self.names:
            raise _renamed(exc, field, self.names[field]) from None


def _renamed(exc: RoomkeyError, old: str, new: str) -> RoomkeyError:
    renamed = copy.copy(exc)
    renamed.message = re.sub(rf"^{re.escape(old)}\b", new, exc.message)
    renamed.args = (renamed.message,)
    renamed.details = {**exc.details, "field": new}
    return renamed


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
        (413, "The request body is over the server's cap (`max_body_bytes`, default 65,536 bytes)"),
        (422, "Validation error"),
        (429, "Rate limited"),
    )
}
