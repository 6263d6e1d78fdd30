"""JSON request bodies read whatever the Content-Type says (``curl -d`` sends a form type).

Parsing is strict JSON (orjson) and validation is the model's; failures take the one error
shape. An empty body (no bytes at all) is ``{}``: "no options" where every field is optional,
as each such operation documents, and a missing field where one is required. Anything else
must be JSON: whitespace alone is not. A body nests at most as deep as a token's payload may
(a member at most ``MAX_CLAIM_DEPTH`` levels), so what a route accepts it can also sign, and
nothing downstream recurses over an unbounded value. Each route documents its body through
:func:`body_doc`.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from roomkey._codec import MAX_JSON_DEPTH, brackets_in, nested_deeper_than
from roomkey.claims import check_nesting
from roomkey.errors import InvalidRequestError, NestedTooDeepError

M = TypeVar("M", bound=BaseModel)


async def parse_body(request: Request, model: type[M]) -> M:
    """The request body parsed as ``model`` (an empty body is ``{}``); raises 422 errors."""
    return parse_json(await request.body(), model)


def parse_json(raw: bytes, model: type[M]) -> M:
    """``raw`` (``{}`` when empty) parsed as strict JSON and validated as ``model``.

    Raises 422 errors, or :class:`NestedTooDeepError` (400) for a body nested too deep.
    """
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):  # orjson's own bound (1024 levels): too deep, not bad JSON
            raise _too_deep() from None
        raise InvalidRequestError("the request body is not valid JSON") from None
    if _has_inner_containers(raw) and brackets_in(raw) > MAX_JSON_DEPTH:
        _check_nesting(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [dict(e) for e in exc.errors(include_url=False)]
        raise RequestValidationError(_with_hints(errors, model)) from None


def _has_inner_containers(raw: bytes) -> bool:
    """False when ``raw`` has no ``[`` and no ``{`` after its first: most bodies, and the
    hot routes' (``find`` is several times cheaper than counting)."""
    return raw.find(b"[") != -1 or raw.find(b"{", raw.find(b"{") + 1) != -1


def _check_nesting(data: Any) -> None:
    """Name the first member nested too deep; raises :class:`NestedTooDeepError`."""
    if isinstance(data, dict):
        for name, value in data.items():
            check_nesting(value, str(name))
    elif nested_deeper_than(data, MAX_JSON_DEPTH):
        raise _too_deep()


def _too_deep() -> NestedTooDeepError:
    return NestedTooDeepError(
        f"the request body is nested deeper than {MAX_JSON_DEPTH} levels", limit=MAX_JSON_DEPTH
    )


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
    # an empty body is {}: fine unless a field is required, or a oneOf asks for one of several
    required = bool(schema.get("required") or schema.get("oneOf"))
    body: dict[str, Any] = {
        "required": required,
        "content": {"application/json": {"schema": schema}},
    }
    if not required:
        body["description"] = EMPTY_BODY_DOC
    return {"requestBody": body}


EMPTY_BODY_DOC = (
    "Optional: an empty body (no bytes) means no options, as `{}` does. A body that is sent must "
    "be JSON (whitespace alone is not: 422 `validation_error`)."
)
