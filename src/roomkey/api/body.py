"""JSON request bodies read whatever the Content-Type says (``curl -d`` sends a form type).

Parsing is strict JSON (orjson) and validation is the model's; failures take the one error
shape. Each route documents its body through :func:`body_doc`.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from roomkey.errors import InvalidRequestError

M = TypeVar("M", bound=BaseModel)


async def parse_body(request: Request, model: type[M]) -> M:
    """The request body parsed as ``model`` (an empty body is ``{}``); raises 422 errors."""
    return parse_json(await request.body(), model)


def parse_json(raw: bytes, model: type[M]) -> M:
    """``raw`` parsed as strict JSON and validated as ``model``; raises 422 errors."""
    try:
        data = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        raise InvalidRequestError("the request body is not valid JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [dict(e) for e in exc.errors(include_url=False)]
        raise RequestValidationError(_with_hints(errors, model)) from None


def _with_hints(errors: list[dict[str, Any]], model: type[BaseModel]) -> list[dict[str, Any]]:
    """Say which field a misspelt one probably meant (never dropped silently, as LiveKit does)."""
    known = [field.alias or name for name, field in model.model_fields.items()]
    for error in errors:
        loc = error.get("loc", ())
        if error.get("type") == "extra_forbidden" and len(loc) == 1 and isinstance(loc[0], str):
            close = difflib.get_close_matches(loc[0], known, n=1)
            error["msg"] = (
                f"unknown field; did you mean {close[0]!r}?"
                if close
                else f"unknown field (known: {', '.join(known)})"
            )
    return errors


def json_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency that parses the request body as ``model``."""

    async def parse(request: Request) -> M:
        return await parse_body(request, model)

    parse.__name__ = f"parse_{model.__name__}"
    return parse


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model`` as the JSON request body."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    required = bool(schema.get("required"))  # an empty body is {}: fine unless a field is required
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": required, "content": content}}
