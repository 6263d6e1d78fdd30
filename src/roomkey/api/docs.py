"""Generate ``docs/api.md`` from the real app's OpenAPI document and settings table.

``python -m roomkey.api.docs > docs/api.md``; a test fails when the committed file differs.
"""

from __future__ import annotations

import sys
from typing import Any

from roomkey import errors
from roomkey._codec import MAX_JSON_DEPTH
from roomkey.api.app import create_app
from roomkey.api.errors import HTTP_STATUS
from roomkey.api.ratelimit import REDIS_HIT_TIMEOUT_S, RETRY_REDIS_AFTER_S
from roomkey.claims import MAX_CLAIM_DEPTH
from roomkey.service import load_settings, settings_table
from roomkey.service.admission.protocol import CLOSE_MEANING, StreamLimits

INTRO = f"""# roomkey HTTP API reference

Generated from the running app's OpenAPI document (`python -m roomkey.api.docs > docs/api.md`);
a test fails when this file and the app disagree. The live document is served at
`/openapi.json`, browsable at `/docs`.

**Authentication.** Management and token-issuing routes take a server-scope token (roomkey's
`api` scope, VideoSDK's `crawler` role, LiveKit's `roomCreate`/`roomList`) signed with one of
the project's API keys, as `Authorization: Bearer <jwt>` or the raw `Authorization: <jwt>`
(sent once: a repeated header is 400 `duplicate_header`). Each operation below names the one
capability it requires ("requires: rooms:write"; see [capabilities](capabilities.md)); a token
without it gets 403 `forbidden` with `details.missing`. A participant (room-scope) token gets
403 with `details.reason` `wrong_scope`; an invalid or expired one gets 401 with the message
"Token is invalid or expired" and the precise reason in `details.reason`.

**Errors.** Every error has one shape: `{{"error": code, "message": ..., "details": {{...}}}}`,
and each code always comes with the same status (see [Error codes](#error-codes)); under
`roomkey serve` that includes what the HTTP server answers by itself: a request it cannot parse
(request line, headers, framing) or a refused WebSocket handshake is 400 `malformed_request`,
a WebSocket opened where there is none 403 `forbidden`. Request bodies
are JSON whatever the `Content-Type` says, are capped (413), and refuse unknown fields (422). A
body that is not JSON (whitespace alone is not) is 422; an empty body (no bytes) means no
options only where the body is optional (marked "Body optional" below). A body nests objects
and arrays at most {MAX_JSON_DEPTH} levels deep, as a token's payload may, so a member such as
`metadata` at most {MAX_CLAIM_DEPTH} (400 `nested_too_deep`, the member in `details.field`).

**Rate limits.** Fixed one-minute windows (a window opens at a key's first request and lasts
60 s; refused requests count too). Token issuance (`/v1/tokens`, `/token`, `/createToken`) is
limited per caller key (`rate_limit_per_min`, or the project's own); `POST /v1/tokens/verify`
and `GET /rtc/validate` per client address, or per caller key when a server token is sent
(`verify_rate_limit_per_min`); the sandbox per sandbox id and client address
(`sandbox_rate_limit_per_min`). Over a limit the answer is 429 `rate_limited` with
`Retry-After` (seconds until the window ends) and `details.retry_after_s`. With `redis_url`,
every node counts in Redis, so a limit holds for the whole deployment; when Redis does not
answer within {REDIS_HIT_TIMEOUT_S:g} s, a node counts on its own (a limit then holds per node,
so at most N times it over N nodes), logs a warning, exports `roomkey_ratelimit_shared 0`, and
tries Redis again every {RETRY_REDIS_AFTER_S:g} s. The client address is the socket peer; behind
a proxy, list the proxy in `trusted_proxies` so that `X-Forwarded-For` is read (from the right,
skipping trusted hops), and only then.
"""


def render() -> str:
    """The whole reference as Markdown."""
    spec = create_app(load_settings()).openapi()
    parts = [INTRO, "## Routes\n", "| method | path | operation | summary |", "|---|---|---|---|"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            summary = (op.get("description") or op.get("summary") or "").split("\n")[0]
            parts.append(f"| {method.upper()} | `{path}` | `{op['operationId']}` | {summary} |")
    parts.append("")
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            parts.extend(_operation(method, path, op))
    parts.extend(_websocket())
    parts.extend(_errors())
    parts.extend(_settings())
    return "\n".join(parts) + "\n"


def _operation(method: str, path: str, op: dict[str, Any]) -> list[str]:
    lines = [f"### {method.upper()} `{path}`", "", op.get("description", "").strip(), ""]
    params = op.get("parameters", [])
    if params:
        lines.append(
            "Parameters: "
            + ", ".join(
                f"`{p['name']}` ({p['in']}{', required' if p.get('required') else ''})"
                for p in params
            )
        )
        lines.append("")
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    props = body.get("schema", {}).get("properties", {})
    if props:
        optional = "" if op["requestBody"].get("required") else "Body optional; "
        lines.append(f"{optional}Body fields: " + ", ".join(f"`{name}`" for name in props))
        lines.append("")
    codes = ", ".join(sorted(op.get("responses", {})))
    lines.extend([f"Responses: {codes}", ""])
    return lines


def _websocket() -> list[str]:
    limits = StreamLimits()
    text = f"""## WebSocket: `GET /v1/rooms/{{room}}/events`

A room's live events (not in the OpenAPI document: OpenAPI does not describe WebSockets).
The credential is never in the URL. Send either the handshake header
`Authorization: Bearer <session_token>` (the `rks1.` credential that `join` returned), or, as a
browser must, a first message `{{"type": "auth", "session_token": "rks1..."}}` within
{limits.auth_timeout_s:g} s. A server token with `rooms:moderate` for the room (the header, or
`{{"type": "auth", "token": "<jwt>"}}`) watches the room: it receives what admitters receive.
The server answers `{{"type": "ready", "session_id", "status", "last_seq"}}`.

Every event is `{{"seq", "type", "room", "at", ...}}`, with per-room `seq`. To resume, reconnect
with `?since=<seq>` (or `"since"` in the auth message): missed events are replayed; beyond
the buffer a `resync` event carries the room's current state and the `seq` to go on from.
Send `{{"type": "ping"}}` for `{{"type": "pong"}}`; the server also pings at the WebSocket
level. A malformed message, a non-object, or an unknown `type` gets an error frame
`{{"type": "error", "error": code, "message": ..., "details": ...}}` and the socket stays open.
Messages are at most {limits.max_frame_bytes} bytes, at most {limits.max_messages_per_s} a
second. After the event that ends the session, the server closes the socket.

| close code | meaning |
|---|---|
"""
    rows = [f"| {int(code)} | {meaning} |" for code, meaning in CLOSE_MEANING.items()]
    return [*text.splitlines(), *rows, ""]


def _errors() -> list[str]:
    lines = ["## Error codes", "", "| code | status | meaning |", "|---|---|---|"]
    classes = (getattr(errors, name) for name in errors.__all__)
    meaning = {cls.code: (cls.__doc__ or "").split("\n")[0].replace("``", "`") for cls in classes}
    for code, status in HTTP_STATUS.items():
        lines.append(f"| `{code}` | {status} | {meaning[code]} |")
    lines.append("")
    return lines


def _settings() -> list[str]:
    lines = [
        "## Server settings",
        "",
        "Flags of `roomkey serve`, `ROOMKEY_*` environment variables, or a TOML file "
        "(`--config`, keys in a `[roomkey]` table).",
        "",
        "| setting | environment | default | description |",
        "|---|---|---|---|",
    ]
    for row in settings_table():
        lines.append(
            f"| `{row['name']}` | `{row['env']}` | `{row['default']}` | {row['description']} |"
        )
    return lines


if __name__ == "__main__":
    sys.stdout.write(render())
