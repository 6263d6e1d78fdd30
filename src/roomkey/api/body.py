"""JSON request bodies read whatever the Content-Type says (``curl -d`` sends a form type).

Parsing is strict JSON (orjson) and validation is the model's; failures take the one error
shape. Each route documents its body through :func:`body_doc`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from roomkey.api.errors import ApiError

M = TypeVar("M", bound=BaseModel)


async def parse_body(request: Request, model: type[M]) -> M:
    """The request body parsed as ``model`` (an empty body is ``{}``); raises 422 errors."""
    return parse_json(await request.body(), model)


def parse_json(raw: bytes, model: type[M]) -> M:
    """``raw`` parsed as strict JSON and validated as ``model``; raises 422 errors."""
    try:
        data = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        raise ApiError("validation_error", "the request body is not valid JSON", 422) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


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
