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
import jsonschema_rs
import pytest
from api_support import assert_error, make_settings
from fastapi import FastAPI
from pydantic import ValidationError

from roomkey.api.rules import excused
from roomkey.api.schemas import Strict
from roomkey.claims import MAX_METADATA_CHARS
from roomkey.errors import InvalidGrantError
from roomkey.grants import PERMISSION_FIELDS
from roomkey.roles import ALIASES, PRESETS, Role, merge_overrides
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


# ---- rules: what JSON Schema can state, it states; the rest is each operation's 400 -------


def _valid(schema: dict[str, Any], instance: Any) -> bool:
    return bool(jsonschema_rs.is_valid(schema, instance))


REVOCATION_BODIES = [
    ({"jti": "j"}, True),
    ({"identity": "mallory"}, True),
    ({"identity": "mallory", "room": "r"}, True),
    ({"room": "r", "reason": "x"}, True),
    ({"kid": "k", "jti": None}, True),
    ({"issued_before": 0}, True),
    ({}, False),
    ({"jti": "", "identity": "", "room": "", "kid": ""}, False),  # the regression: every field ""
    ({"jti": None, "identity": None}, False),
    ({"jti": "j", "issued_before": 0}, False),  # accepted before: 0 read as "not given"
    ({"identity": "m", "kid": "k"}, False),
    ({"room": "r", "kid": "k"}, False),
]


@pytest.mark.parametrize(("body", "valid"), REVOCATION_BODIES)
async def test_a_revocation_names_exactly_one_target_in_the_schema_and_the_server(
    app: FastAPI, client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any], valid: bool
) -> None:
    assert _valid(_body_schema(app, "/v1/revocations"), body) is valid
    response = await client.post("/v1/revocations", json=body, headers=auth)
    if valid:
        assert response.status_code == 201, response.text
    else:
        assert response.status_code in (400, 422), response.text


@pytest.mark.parametrize(
    ("path", "method", "body", "field"),
    [
        ("/v1/tokens", "post", {"identity": "a", "role": ""}, "role"),  # was 400 "unknown role ''"
        ("/v1/roles/0", "put", {"permissions": {}}, "permissions"),  # was 400, unstated
        ("/v1/roles/%20%20", "put", {"permissions": {"hidden": True}}, "path.name"),
    ],
)
async def test_what_the_schema_states_is_a_validation_error(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    path: str,
    method: str,
    body: dict[str, Any],
    field: str,
) -> None:
    response = await client.request(method, path, json=body, headers=auth)
    error = assert_error(response, 422, "validation_error")
    assert error["details"]["problems"][0]["field"] == field


def test_the_schema_states_those_rules(app: FastAPI) -> None:
    assert _body_schema(app, "/v1/tokens")["properties"]["role"]["anyOf"][0]["minLength"] == 1
    permissions = _body_schema(app, "/v1/roles/{name}", "put")["properties"]["permissions"]
    assert permissions["minProperties"] == 1
    role_name = app.openapi()["paths"]["/v1/roles/{name}"]["put"]["parameters"][0]["schema"]
    assert (role_name["maxLength"], role_name["pattern"]) == (20, r"\S")
    for path in ("/v1/audit", "/v1/rooms"):
        (cursor,) = [
            p for p in app.openapi()["paths"][path]["get"]["parameters"] if p["name"] == "cursor"
        ]
        assert cursor["schema"]["anyOf"][0]["pattern"] == "^[A-Za-z0-9_-]+$"


def test_the_permissions_schema_names_every_permission_and_its_type(app: FastAPI) -> None:
    schema = _body_schema(app, "/v1/tokens")["properties"]["permissions"]["anyOf"][0]
    assert set(schema["properties"]) == {*PERMISSION_FIELDS, *ALIASES}
    for accepted in (
        {"can_produce": True, "sources": ["mic"]},
        {"canPublishSources": "cam,mic", "roomAdmin": False},
        {"sources": {"screen": False}, "join": "ask", "scope": ["room"]},
        {"scope": "api", "capabilities": ["rooms:read"]},
    ):
        assert _valid(schema, accepted), accepted
        merge_overrides(PRESETS[Role.GUEST], accepted)  # the server takes it too
    for refused in ({"webcam": True}, {"hidden": "yes"}, {"join": "later"}, {"sources": 5}):
        assert not _valid(schema, refused), refused
        with pytest.raises(InvalidGrantError):
            merge_overrides(PRESETS[Role.GUEST], refused)


@pytest.mark.parametrize("bound", ["issued_from", "issued_until"])
async def test_an_audit_moment_beyond_64_bits_is_422_not_a_5xx(
    client: httpx.AsyncClient, auth: dict[str, str], bound: str
) -> None:
    # found by schemathesis: 2**63 reached SQLite and raised OverflowError (500)
    too_far = await client.get(f"/v1/audit?{bound}={2**63}", headers=auth)
    assert_error(too_far, 422, "validation_error")
    fine = await client.get(f"/v1/audit?{bound}={2**63 - 1}", headers=auth)
    assert fine.status_code == 200, fine.text


@pytest.mark.parametrize(
    ("path", "query", "operation"),
    [("/v1/rooms", "cursor=!!", "list_rooms"), ("/v1/audit", "cursor=no+pad=", "list_audit")],
)
async def test_a_cursor_outside_the_pattern_is_422_and_an_unknown_one_a_documented_400(
    app: FastAPI,
    client: httpx.AsyncClient,
    auth: dict[str, str],
    path: str,
    query: str,
    operation: str,
) -> None:
    assert_error(await client.get(f"{path}?{query}", headers=auth), 422, "validation_error")
    unknown = await client.get(f"{path}?cursor=AAAA", headers=auth)  # base64url, not ours
    assert_error(unknown, 400, "invalid_cursor")
    assert excused(operation, "invalid_cursor", None)
    documented = app.openapi()["paths"][path]["get"]
    assert "`invalid_cursor`" in documented["description"]
    error = documented["responses"]["400"]["content"]["application/json"]["schema"]
    assert "invalid_cursor" in error["properties"]["error"]["enum"]


async def test_default_ttl_over_max_ttl_is_a_documented_400(
    app: FastAPI, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    both = await client.patch(
        "/v1/project", json={"default_ttl_s": 600, "max_ttl_s": 300}, headers=auth
    )
    assert_error(both, 400, "invalid_configuration")
    over_stored = await client.patch("/v1/project", json={"default_ttl_s": 10**6}, headers=auth)
    assert_error(over_stored, 400, "invalid_configuration")
    documented = app.openapi()["paths"]["/v1/project"]["patch"]
    assert (
        "`invalid_configuration`: `default_ttl_s` is at most `max_ttl_s`"
        in (documented["description"])
    )
