"""Dashboard forms read into the API's own request schemas (the same validation as the API)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from roomkey.api.dashboard.web import Form
from roomkey.api.schemas import TokenCreate
from roomkey.errors import InvalidRequestError

Model = TypeVar("Model", bound=BaseModel)

TOKEN_FLAGS = (
    "can_consume",
    "can_produce",
    "can_send_data",
    "can_recv_data",
    "can_update_metadata",
    "moderate",
    "admin",
    "hidden",
    "recorder",
)
TOKEN_SOURCES = ("cam", "mic", "screen")


def parse(schema: type[Model], data: dict[str, Any]) -> Model:
    """``data`` validated by an API schema; raises InvalidRequestError naming the field."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "")
        raise InvalidRequestError(message, field=where) from None


def integer(form: Form, name: str) -> int | None:
    """An optional whole number field; raises InvalidRequestError for anything else."""
    text = form.get(name)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidRequestError(f"{name}: {text!r} is not a whole number", field=name) from None


def json_field(form: Form, name: str) -> Any:
    """An optional JSON field; raises InvalidRequestError when it does not parse."""
    text = form.get(name)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidRequestError(f"{name} is not JSON: {exc}", field=name) from None


def token_body(form: Form) -> dict[str, Any]:
    """The playground's form as a ``POST /v1/tokens`` body, checked by its schema."""
    body: dict[str, Any] = {
        "identity": form.optional("identity"),
        "room": form.optional("room"),
        "dialect": form.get("dialect", "native") or "native",
        "role": form.optional("role"),
        "name": form.optional("name"),
        "metadata": json_field(form, "metadata"),
        "ttl_s": integer(form, "ttl_s"),
    }
    permissions = permission_fields(form) if form.checked("custom") else {}
    if form.get("join") in ("direct", "ask"):
        permissions["join"] = form.get("join")
    if permissions:
        body["permissions"] = permissions
    body = {k: v for k, v in body.items() if v is not None}
    parse(TokenCreate, body)
    return body


def permission_fields(form: Form) -> dict[str, Any]:
    """The permission checkboxes (flags and sources) as a ``permissions`` object."""
    permissions: dict[str, Any] = {flag: form.checked(flag) for flag in TOKEN_FLAGS}
    sources = [s for s in TOKEN_SOURCES if s in form.all("sources")]
    if "screen" in sources:
        sources.append("screen_audio")
    permissions["sources"] = sources if permissions["can_produce"] else []
    return permissions
