"""Who may call which route: the capability each operation requires, read from the routes.

Every route either declares one :class:`~roomkey.api.deps.Requires` dependency or is listed in
:data:`PUBLIC_OPERATIONS` with the reason it needs no capability; a test holds every route to
that. The same reading writes "requires: ..." into each operation's OpenAPI description and the
route table of ``docs/capabilities.md`` (``python -m roomkey.api.access > docs/capabilities.md``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from roomkey.api.actors import RoomActor
from roomkey.api.deps import Requires
from roomkey.capabilities import CRAWLER_CAPABILITIES, LIVEKIT_FLAGS, Capability

# Operations that take no capability, and why.
PUBLIC_OPERATIONS: dict[str, str] = {
    "healthz": "liveness probe",
    "readyz": "readiness probe",
    "metrics": "Prometheus scrape",
    "jwks": "public keys, for clients that check Huddle01-format tokens",
    "verify_token": "media servers call it with the participant's token; a server token, "
    "when sent, needs tokens:verify and fixes the project",
    "rtc_validate": "LiveKit-style validation with the participant's token",
    "sandbox_token": "development sandbox, off by default, per project",
    "join_room": "the participant's own token, verified with every check",
    "get_session": "the session's own credential (`session_token`)",
    "leave_session": "the session's own credential (`session_token`)",
    "cancel_knock": "the waiting session's own credential (`session_token`)",
    "refresh_session": "the session's own credential (`session_token`)",
    "create_dashboard_link": "any server token: the link signs the dashboard in with exactly "
    "the capabilities of the token that asked for it",
}
# Public operations that act on one session with its own credential instead of a capability.
SESSION_OPERATIONS = frozenset({"get_session", "leave_session", "cancel_knock", "refresh_session"})
OPTIONAL_REQUIREMENTS: dict[str, Capability] = {"verify_token": Capability.TOKENS_VERIFY}


# A route's declared requirement: a capability, or a live room's actor (a session of the room,
# or a server token with rooms:moderate for it).
Requirement = Requires | RoomActor


def requirement(route: APIRoute) -> Requirement | None:
    """The route's :class:`Requires` or :class:`RoomActor` dependency, if it declares one."""
    found = [d.call for d in _walk(route.dependant) if isinstance(d.call, Requires | RoomActor)]
    assert len(found) <= 1, f"{route.path} declares several capabilities"
    return found[0] if found else None


def _stated(needed: Requirement) -> str:
    """How a requirement reads in a description or a table cell."""
    if isinstance(needed, RoomActor):
        return needed.describe()
    return f"`{needed.capability.value}`"


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for dep in dependant.dependencies:
        yield dep
        yield from _walk(dep)


def api_routes(routers: Sequence[APIRouter]) -> list[APIRoute]:
    """The documented routes of ``routers``."""
    return [
        r
        for router in routers
        for r in router.routes
        if isinstance(r, APIRoute) and r.include_in_schema
    ]


def annotate(routers: Sequence[APIRouter]) -> None:
    """Write each route's requirement into its OpenAPI description ("requires: rooms:write").

    Idempotent (the routers are module-level objects shared by every app built).
    """
    for route in api_routes(routers):
        note = _note(route)
        if note not in route.description:
            route.description = f"{route.description.rstrip()}\n\n{note}".lstrip()


def _note(route: APIRoute) -> str:
    needed = requirement(route)
    if needed is not None:
        return f"**requires:** {_stated(needed)}"
    optional = OPTIONAL_REQUIREMENTS.get(route.operation_id or "")
    reason = PUBLIC_OPERATIONS.get(route.operation_id or "", "")
    if optional is not None:
        return f"**requires:** nothing; `{optional.value}` when a server token is sent ({reason})"
    return f"**requires:** nothing ({reason})"


def native_shape(capability: Capability) -> str:
    """The native grant that reaches ``capability``."""
    if capability is Capability.ADMIN:
        return '`"capabilities": ["admin"]`'
    return f'`"capabilities"` with `{capability.value}` or `admin`'


def livekit_shape(capability: Capability) -> str:
    """The LiveKit video grant that reaches ``capability`` ("—" for none)."""
    flags = [f"`{f}`" for f, c in LIVEKIT_FLAGS.items() if c is capability]
    if capability is Capability.ROOMS_MODERATE:
        flags.append("`roomAdmin` with its `room` (that room only)")
    return ", ".join(flags) or "—"


def videosdk_shape(capability: Capability) -> str:
    """The VideoSDK ``roles`` that reach ``capability`` ("—" for none)."""
    if capability in CRAWLER_CAPABILITIES:
        return '`roles: ["crawler"]` (role-less too, if the project opts in)'
    if capability is Capability.ROOMS_MODERATE:
        return "`allow_mod` with its `roomId` (that room only)"
    return "—"


def token_shapes(capability: Capability) -> str:
    """Every format's token shape that reaches ``capability``, in one cell."""
    parts = [
        f"native {native_shape(capability)}",
        f"LiveKit {livekit_shape(capability)}",
        f"VideoSDK {videosdk_shape(capability)}",
    ]
    if capability is Capability.ROOMS_MODERATE:
        parts.append("any participant token with admin/moderate rights for its own room")
    return "; ".join(p for p in parts if not p.endswith("—"))


INTRO = """# Capabilities: who may call which route

Generated from the app (`python -m roomkey.api.access > docs/capabilities.md`); a test fails
when this file and the app disagree.

A **server token** (roomkey's `api` scope) carries exactly the capabilities it names, and
`admin` stands for all of them. Every route requires one capability, checked in one place (the
route's `Requires` pipeline, which the fast paths of `POST /token` and `POST /v1/tokens/verify`
call too); a token without it gets

```json
{"error": "forbidden", "message": "this token lacks the capability rooms:write",
 "details": {"missing": "rooms:write"}}
```

with status 403. A participant (room-scope) token gets 403 with `details.reason` `wrong_scope`
on every route except the moderation of its own room; an invalid or expired token gets 401.

## The capabilities

| capability | what it allows | token shapes that carry it |
|---|---|---|
"""

ORIGINS = """
## How the formats map

- **native**: `grant.capabilities`, a list of the names above, written only by roomkey. Tokens
  minted before capabilities existed read as none.
- **LiveKit**: `roomCreate` → `rooms:write`, `roomList` → `rooms:read`, `roomAdmin` with its
  `room` → moderation of that room only. Grants that mean nothing to roomkey (`roomRecord`,
  `ingressAdmin`, ...) make a server token with no roomkey capability. Minting a LiveKit server
  token with other capabilities is refused (`unsupported_by_dialect`): LiveKit cannot carry them.
- **VideoSDK**: `roles: ["crawler"]` → the v2 API's equivalents: `rooms:read`, `rooms:write`,
  `tokens:issue`, `tokens:verify`; never `keys`, `project` or `admin`. A token without `roles`
  (or with `roles: []`), such as the seed's `{apikey, permissions: ["allow_join"]}`, is a
  participant token for roomkey's API, unless the project sets `videosdk_roleless_api`
  (`PATCH /v1/project`), and then it gets the crawler set, never more.
- **Huddle01**: peer tokens only; no capability.

## Minting server tokens

- `roomkey admin token --permissions rooms:write,tokens:issue` (default `admin`).
- `roomkey token create --capabilities rooms:read` (implies `--scope api`).
- `POST /v1/tokens` with `"permissions": {"scope": ["api"], "capabilities": [...]}`: the caller
  may hand out only a subset of its own capabilities; asking for more is 403 with
  `details.missing`.

## Verification is bound to a project

`POST /v1/tokens/verify` answers for one project and names it (`"project"` in every answer):
the project of the server token sent (`tokens:verify`), else the one the body names
(`"project": "prj_..."`), else the server's only project; with several projects and neither,
the answer is `400 project_required`. A genuine token of another project is `valid: false`
with the code `wrong_project`. `GET /rtc/validate` follows the same rule with a `project`
query parameter.

## Routes

Token shapes that reach each route (a native server token always can, with the capability or
`admin`; "—": no token of that format can):

| method | path | operation | requires | LiveKit grant | VideoSDK |
|---|---|---|---|---|---|
"""

CAPABILITY_TEXT: dict[Capability, str] = {
    Capability.KEYS: "API keys and signing keys: create, list, rotate, disable, delete",
    Capability.PROJECT: "read and change the project's settings",
    Capability.ROOMS_READ: "list, read and validate rooms",
    Capability.ROOMS_WRITE: "create and deactivate rooms",
    Capability.ROLES: "custom roles: store, list, delete",
    Capability.TOKENS_ISSUE: "mint tokens (server tokens only with a subset of one's own rights)",
    Capability.TOKENS_VERIFY: "verify on behalf of the project (fixes the project bound)",
    Capability.REVOCATIONS: "create, list and lift revocations",
    Capability.AUDIT_READ: "read the audit log of issued tokens",
    Capability.ROOMS_MODERATE: "act on live rooms (of one room, for a room-bound token)",
    Capability.WEBHOOKS: "manage webhook endpoints",
    Capability.ADMIN: "all of the above, and creating projects (bootstrap project only)",
}


def render(routers: Sequence[APIRouter]) -> str:
    """``docs/capabilities.md``."""
    lines = [INTRO.rstrip("\n")]
    for cap in Capability:
        shapes = token_shapes(cap)
        lines.append(f"| `{cap.value}` | {CAPABILITY_TEXT[cap]} | {shapes} |")
    lines.append(ORIGINS.rstrip("\n"))
    for route in api_routes(routers):
        needed = requirement(route)
        if needed is None:
            cells = [_public_cell(route), "any", "any"]
        else:
            cap = needed.capability
            cells = [_stated(needed), livekit_shape(cap), videosdk_shape(cap)]
        for method in sorted(route.methods or ()):
            row = [method, f"`{route.path}`", f"`{route.operation_id}`", *cells]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _public_cell(route: APIRoute) -> str:
    operation = route.operation_id or ""
    optional = OPTIONAL_REQUIREMENTS.get(operation)
    if optional is not None:
        return f"none (`{optional.value}` if a token is sent)"
    if operation in SESSION_OPERATIONS:
        return "none: the session's own `session_token`"
    return "none"


def _main() -> None:
    from roomkey.api.routes import ROUTERS

    sys.stdout.write(render(ROUTERS))


if __name__ == "__main__":
    _main()
