"""Answers that agree with the published OpenAPI document: one regression test per finding of
an independent schemathesis run (`--checks all` over every operation).

Each finding was an answer that a client generated from `/openapi.json` would not expect: a
limit counted differently by the schema and the server, a schema-valid value refused, a body
that is not JSON accepted, a rule the schema did not state, an error naming the wrong field.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import assert_error, make_settings
from fastapi import FastAPI
from pydantic import ValidationError

from roomkey.api.schemas import Strict
from roomkey.claims import MAX_METADATA_CHARS
from roomkey.service import RoomkeyService


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[RoomkeyService]:
    """The suite's service with the default body cap (the suite's own is too small here)."""
    node = await RoomkeyService.open(make_settings(tmp_path))
    try:
        yield node
    finally:
        await node.close()


def _body_schema(app: FastAPI, path: str, method: str = "post") -> dict[str, Any]:
    operation = app.openapi()["paths"][path][method]
    schema: dict[str, Any] = operation["requestBody"]["content"]["application/json"]["schema"]
    return schema


# ---- the metadata limit: 5,120 characters, the same in the schema, the check and the docs ---


def test_the_schema_states_the_metadata_limit_the_server_checks(app: FastAPI) -> None:
    livekit = _body_schema(app, "/token")["properties"]["participant_metadata"]
    native = _body_schema(app, "/v1/tokens")["properties"]["metadata"]
    assert livekit["maxLength"] == native["maxLength"] == MAX_METADATA_CHARS == 5120


@pytest.mark.parametrize("size", [5119, 5120])
async def test_metadata_up_to_the_limit_is_accepted_on_both_token_routes(
    client: httpx.AsyncClient, auth: dict[str, str], size: int
) -> None:
    # the regression: the server counted the JSON string with its quotes (5,121 "bytes")
    text = "m" * size
    livekit = await client.post("/token", json={"participant_metadata": text}, headers=auth)
    assert livekit.status_code == 201, livekit.text
    native = await client.post("/v1/tokens", json={"identity": "a", "metadata": text}, headers=auth)
    assert native.status_code == 201, native.text


async def test_metadata_over_the_limit_is_refused_naming_the_request_field(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    text = "m" * (MAX_METADATA_CHARS + 1)
    livekit = await client.post("/token", json={"participant_metadata": text}, headers=auth)
    body = assert_error(livekit, 400, "metadata_too_large")
    assert body["details"] == {"field": "participant_metadata", "size": 5121, "limit": 5120}
    assert body["message"] == "participant_metadata is 5121 characters; the limit is 5120"
    native = await client.post("/v1/tokens", json={"identity": "a", "metadata": text}, headers=auth)
    assert assert_error(native, 400, "metadata_too_large")["details"]["field"] == "metadata"


async def test_metadata_counts_characters_not_bytes(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    text = "é" * MAX_METADATA_CHARS  # 10,240 bytes in UTF-8: what maxLength counts is characters
    response = await client.post("/token", json={"participant_metadata": text}, headers=auth)
    assert response.status_code == 201, response.text
    json_value = {"k": "x" * (MAX_METADATA_CHARS - 8)}  # {"k":"..."}: exactly 5,120 characters
    response = await client.post(
        "/v1/tokens", json={"identity": "a", "metadata": json_value}, headers=auth
    )
    assert response.status_code == 201, response.text


# ---- errors name the field the caller sent ----------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/createToken", {"roomName": "a\x07b"}, "roomName"),  # the regression: "customRoomId"
        ("/createToken", {"participantName": "a\nb"}, "participantName"),
        ("/token", {"room_name": "a\x07b"}, "room_name"),
        ("/token", {"participant_identity": "a\nb"}, "participant_identity"),
        ("/v1/tokens", {"identity": "a", "room": "a\x07b"}, "room"),
    ],
)
async def test_a_bad_value_is_reported_under_the_field_it_was_sent_in(
    client: httpx.AsyncClient, auth: dict[str, str], path: str, body: dict[str, Any], field: str
) -> None:
    response = await client.post(path, json=body, headers=auth)
    error = assert_error(response, 400, "invalid_claim_value")
    assert error["details"]["field"] == field
    assert error["message"] == f"{field} contains control characters"


async def test_a_room_created_on_first_use_cannot_hold_a_slash(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.post("/createToken", json={"roomName": "a/b"}, headers=auth)
    error = assert_error(response, 400, "invalid_claim_value")
    assert error["details"]["field"] == "roomName"
    assert error["message"].startswith("roomName cannot contain '/'")


# ---- integers: a whole-number float (10.0) is the integer JSON Schema says it is ----------


def _body_models() -> list[type[Strict]]:
    found, todo = [], list(Strict.__subclasses__())
    while todo:
        model = todo.pop()
        found.append(model)
        todo.extend(model.__subclasses__())
    return found


def _integer_fields(model: type[Strict]) -> list[tuple[str, int]]:
    """Each integer field of ``model`` and a valid value for it."""
    fields = []
    for name, prop in model.model_json_schema()["properties"].items():
        branches = prop.get("anyOf", [prop])
        integer = next((b for b in branches if b.get("type") == "integer"), None)
        if integer is not None:
            # every integer field is bounded below; "ge" would be pydantic's, unknown to JSON
            # Schema (a bounds-losing Annotated order published it once)
            assert "minimum" in integer and "ge" not in integer, (model, name, integer)
            fields.append((name, int(integer["minimum"]) + 7))
    return fields


INTEGER_FIELDS = [(m, n, v) for m in _body_models() for n, v in _integer_fields(m)]


def test_every_integer_field_of_every_body_is_found() -> None:
    names = {f"{m.__name__}.{n}" for m, n, _ in INTEGER_FIELDS}
    assert {"TokenCreate.ttl_s", "KeyRotate.overlap_s", "RoomCreate.max_participants"} <= names
    assert {"RevocationCreate.issued_before", "ProjectSettingsUpdate.rate_limit_per_min"} <= names


def _keywords(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            if key not in ("properties", "examples", "example", "default", "enum", "const"):
                yield from _keywords(value)
            elif key == "properties":
                for prop in value.values():
                    yield from _keywords(prop)
    elif isinstance(node, list):
        for item in node:
            yield from _keywords(item)


def test_the_document_uses_no_bounds_json_schema_does_not_know(app: FastAPI) -> None:
    used = set(_keywords(app.openapi()))
    assert not used & {"ge", "le", "gt", "lt"}, used & {"ge", "le", "gt", "lt"}


@pytest.mark.parametrize(("model", "name", "value"), INTEGER_FIELDS)
def test_integer_fields_take_whole_number_floats_only(
    model: type[Strict], name: str, value: int
) -> None:
    parsed = getattr(model.model_validate({name: float(value)}), name)
    assert parsed == value and type(parsed) is int
    for refused in (value + 0.5, str(value), True):
        with pytest.raises(ValidationError):
            model.model_validate({name: refused})


async def test_whole_number_floats_are_accepted_by_the_routes(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    room = await client.post("/v1/rooms", json={"max_participants": 2819.0}, headers=auth)
    assert room.status_code == 201, room.text
    assert room.json()["max_participants"] == 2819
    token = await client.post("/v1/tokens", json={"identity": "a", "ttl_s": 60.0}, headers=auth)
    assert token.status_code == 201, token.text
    settings = {"default_ttl_s": 600.0, "rate_limit_per_min": 1000.0, "knock_timeout_s": 30.0}
    project = await client.patch("/v1/project", json=settings, headers=auth)
    assert project.status_code == 200, project.text
    assert project.json()["settings"]["rate_limit_per_min"] == 1000
    rule = await client.post("/v1/revocations", json={"issued_before": 1.0e9}, headers=auth)
    assert rule.status_code == 201, rule.text
    key = (await client.get("/v1/keys", headers=auth)).json()[0]["kid"]
    rotated = await client.post(f"/v1/keys/{key}/rotate", json={"overlap_s": 575.0}, headers=auth)
    assert rotated.status_code == 201, rotated.text
    fraction = await client.post("/v1/rooms", json={"max_participants": 2.5}, headers=auth)
    assert_error(fraction, 422, "validation_error")


# ---- a body that is not JSON is refused; an empty one is "no options" where documented ---


def _body_operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op["requestBody"])
        for path, ops in app.openapi()["paths"].items()
        for method, op in ops.items()
        if "requestBody" in op
    ]


@pytest.mark.parametrize("content", [b" ", b"\n", b"\t \r\n", b"{} x", b"nope"])
async def test_a_body_that_is_not_json_is_refused_everywhere(
    app: FastAPI, client: httpx.AsyncClient, auth: dict[str, str], content: bytes
) -> None:
    # the regression: POST /v1/keys with the body " " created a key (201)
    for method, path, _ in _body_operations(app):
        url = path.replace("{", "").replace("}", "")  # every path parameter: its own name
        response = await client.request(method, url, content=content, headers=auth)
        assert 400 <= response.status_code < 500, (method, path, response.text)
        assert response.headers["content-type"] == "application/json"
    for path in ("/v1/keys", "/v1/rooms", "/v1/tokens", "/token", "/v1/tokens/verify"):
        response = await client.post(path, content=content, headers=auth)
        body = assert_error(response, 422, "validation_error")
        assert body["message"] == "the request body is not valid JSON"


async def test_an_empty_body_is_no_options_where_the_body_is_optional(
    app: FastAPI, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    for _, path, request_body in _body_operations(app):
        described = "empty body (no bytes) means no options" in request_body.get("description", "")
        assert described is not request_body["required"], path
    created = await client.post("/v1/keys", content=b"", headers=auth)
    assert created.status_code == 201, created.text
    required = await client.put("/v1/roles/presenter", content=b"", headers=auth)
    body = assert_error(required, 422, "validation_error")
    assert body["details"]["problems"][0]["field"] == "permissions"


# ---- an oversize token is a verification outcome; only the body cap is 413 ---------------


def test_the_schema_bounds_a_token_by_the_verifier_and_the_body_cap_only(app: FastAPI) -> None:
    # the regression: maxLength 65,536 promised a validation error, the body cap answered 413
    for path in ("/v1/tokens/verify", "/v1/rooms/{room}/join"):
        token = _body_schema(app, path)["properties"]["token"]
        assert "maxLength" not in token and "maxLength" not in str(token.get("anyOf", ""))
        assert "token_too_large" in token["description"] and "413" in token["description"]
        responses = app.openapi()["paths"][path]["post"]["responses"]
        assert "max_body_bytes" in responses["413"]["description"]


async def test_an_oversize_token_is_refused_by_the_verifier_with_its_reason(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/tokens/verify", json={"token": "a.b." + "c" * 65_000})
    assert response.status_code == 200, response.text
    assert response.json()["valid"] is False
    assert response.json()["code"] == "token_too_large"
    over_the_cap = {"token": "a.b." + "c" * 66_000}
    assert_error(await client.post("/v1/tokens/verify", json=over_the_cap), 413, "body_too_large")
