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
from roomkey.claims import MAX_CLAIM_DEPTH
from roomkey.service import load_settings, settings_table

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
and each code always comes with the same status (see [Error codes](#error-codes)). Request bodies
are JSON whatever the `Content-Type` says, are capped (413), and refuse unknown fields (422). A
body nests objects and arrays at most {MAX_JSON_DEPTH} levels deep, as a token's payload may, so
a member such as `metadata` at most {MAX_CLAIM_DEPTH} (400 `nested_too_deep`, the member in
`details.field`).
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
        lines.append("Body fields: " + ", ".join(f"`{name}`" for name in props))
        lines.append("")
    codes = ", ".join(sorted(op.get("responses", {})))
    lines.extend([f"Responses: {codes}", ""])
    return lines


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
