"""Request and response bodies: ``XCreate`` / ``XUpdate`` / ``XPublic`` per resource.

Requests forbid unknown fields (a misspelt field is an error, never silently ignored).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.config import JsonDict

from roomkey.api.constraints import PERMISSIONS, one_target
from roomkey.claims import MAX_METADATA_CHARS

Dialect = Literal["native", "livekit", "videosdk", "huddle01"]


def _whole_number(value: Any) -> Any:
    """``10.0`` as the integer 10 (JSON Schema's ``integer`` admits it); ``10.5`` still fails."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


# Every integer a request body takes: an integer, or a float with no fractional part (10.0), as
# the published `"type": "integer"` promises; strings and booleans are still refused. Written
# after a field's bounds, `Annotated[int, Field(ge=1), WHOLE]`: placed before them, pydantic
# publishes the bounds as "ge"/"le", which JSON Schema does not know, instead of minimum/maximum.
WHOLE = BeforeValidator(_whole_number)
# Permission overrides: a map the core checks, published with every name and type it accepts.
Permissions = Annotated[dict[str, Any], WithJsonSchema(PERMISSIONS)]


class Strict(BaseModel):
    """Base for request bodies: unknown fields are refused, and types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


# The metadata limit as the core checks it (roomkey.claims.check_metadata), stated once: JSON
# Schema's maxLength constrains strings only, and counts characters as the check does.
METADATA_LIMIT = (
    f"At most {MAX_METADATA_CHARS:,} characters as text: a string counts its own characters, any "
    "other JSON value those of its compact JSON form (400 `metadata_too_large` over it)."
)
METADATA_SCHEMA: JsonDict = {"maxLength": MAX_METADATA_CHARS}


# A token's size is the verifier's first check, answered with a reason like any other; the
# body cap (413) is the only bound before it, so the schema states no maxLength of its own.
TOKEN_SIZE = (
    "Any length: a token over the server's `max_token_bytes` (default 8,192) is refused by the "
    "verifier with the code `token_too_large`; a body over `max_body_bytes` (default 65,536 "
    "bytes) is 413 `body_too_large`."
)


class ErrorPublic(BaseModel):
    """The one error shape."""

    error: str
    message: str
    details: dict[str, Any] = {}


# ---- tokens -----------------------------------------------------------------------------


class TokenCreate(Strict):
    """A token request with every option of the core."""

    identity: str | None = Field(None, max_length=256, description="Participant identity.")
    room: str | None = Field(None, max_length=256, description="Room id or custom id.")
    dialect: Dialect = "native"
    role: str | None = Field(
        None, min_length=1, max_length=20, description="Preset or custom role."
    )
    permissions: Permissions | None = Field(None, description="Overrides merged over the role.")
    name: str | None = Field(None, max_length=256)
    metadata: Any = Field(
        None, description=f"Any JSON value. {METADATA_LIMIT}", json_schema_extra=METADATA_SCHEMA
    )
    attributes: dict[str, str] | None = None
    ttl_s: Annotated[int, Field(ge=1), WHOLE] | None = Field(
        None, description="Lifetime; default the project's."
    )
    kind: str | None = Field(None, max_length=32, description="LiveKit participant kind.")
    room_config: dict[str, Any] | None = Field(None, description="LiveKit room configuration.")


class TokenPublic(BaseModel):
    """An issued token."""

    token: str
    jti: str
    expires_at: int
    dialect: Dialect


class LiveKitTokenRequest(Strict):
    """LiveKit's standard token-endpoint request (all optional; missing ones are generated)."""

    room_name: str | None = Field(None, max_length=256)
    participant_identity: str | None = Field(None, max_length=256)
    participant_name: str | None = Field(None, max_length=256)
    participant_metadata: str | None = Field(
        None, description=METADATA_LIMIT, json_schema_extra=METADATA_SCHEMA
    )
    participant_attributes: dict[str, str] | None = None
    room_config: dict[str, Any] | None = None


class LiveKitTokenPublic(BaseModel):
    """LiveKit's standard token-endpoint response."""

    server_url: str
    participant_token: str


class TemplateTokenRequest(Strict):
    """The seed template's request body."""

    roomName: str | None = Field(None, max_length=256)
    participantName: str | None = Field(None, max_length=256)


class VerifyRequest(Strict):
    """A token to check, optionally bound to a room and an identity."""

    token: str = Field(..., description=TOKEN_SIZE)
    room: str | None = Field(None, max_length=256)
    identity: str | None = Field(None, max_length=256)
    scope: Literal["room", "api"] = "room"
    project: str | None = Field(
        None,
        max_length=256,
        description="The project the token must belong to. Needed unless the request carries a "
        "server token with tokens:verify (which fixes the project) or the server holds exactly "
        "one project.",
    )


class VerifyPublic(BaseModel):
    """Valid or not, the normalised grant, and a reason a developer can act on."""

    valid: bool
    code: str | None = None
    message: str
    project: str | None = Field(None, description="The project the token was checked against.")
    dialect: str | None = None
    kid: str | None = None
    claims: dict[str, Any] | None = None
    grant: dict[str, Any] | None = None
    details: dict[str, Any] = {}


# ---- keys -------------------------------------------------------------------------------


class KeyCreate(Strict):
    """A new API key (HMAC) or signing key."""

    description: str = Field("", max_length=200)
    purpose: Literal["api", "signing"] = "api"
    alg: Literal["EdDSA", "ES256", "RS256"] = Field("EdDSA", description="Signing keys only.")


class KeyRotate(Strict):
    """How long the old key keeps verifying."""

    overlap_s: Annotated[int, Field(ge=0, le=30 * 24 * 3600), WHOLE] = 3600


class KeyPublic(BaseModel):
    """A key without its secret."""

    kid: str
    purpose: str
    alg: str
    status: str
    created_at: int
    expires_at: int | None = None
    disabled_at: int | None = None
    description: str = ""
    rotated_from: str | None = None
    public_jwk: dict[str, Any] | None = None


class KeyCreated(KeyPublic):
    """A new key; ``api_secret`` is shown here once and never again."""

    api_key: str | None = None
    api_secret: str | None = None


# ---- rooms ------------------------------------------------------------------------------


class RoomCreate(Strict):
    """A new room; ``customRoomId`` makes creation idempotent."""

    customRoomId: str | None = Field(None, min_length=1, max_length=256)
    metadata: dict[str, Any] | None = Field(None, description=METADATA_LIMIT)
    max_participants: Annotated[int, Field(ge=1, le=100_000), WHOLE] | None = None
    locked: bool = False


class RoomPublic(BaseModel):
    """A room."""

    roomId: str
    customRoomId: str | None = None
    metadata: dict[str, Any] = {}
    max_participants: int | None = None
    locked: bool = False
    active: bool = True
    created_at: int
    deactivated_at: int | None = None


class RoomPage(BaseModel):
    """A page of rooms."""

    data: list[RoomPublic]
    next_cursor: str | None = None


# ---- bans -------------------------------------------------------------------------------


class BanCreate(Strict):
    """An identity to ban from the room, and why."""

    identity: str = Field(..., min_length=1, max_length=256)
    reason: str = Field("", max_length=200)


class BanPublic(BaseModel):
    """A ban: the identity is refused admission to the room and new tokens for it."""

    id: str
    room: str = Field(..., description="The room's id (also when banned by its custom id).")
    identity: str
    created_at: int
    reason: str = ""
    created_by: str = Field("", description="Who banned: the caller's key and identity.")
    lifted_at: int | None = None


# ---- roles ------------------------------------------------------------------------------


class RolePut(Strict):
    """A custom role's permissions (fields not named are denied)."""

    permissions: Annotated[dict[str, Any], WithJsonSchema({**PERMISSIONS, "minProperties": 1})] = (
        Field(..., min_length=1, description="At least one permission.")
    )


class RolePublic(BaseModel):
    """A custom role."""

    name: str
    permissions: dict[str, Any]
    grant: dict[str, Any]
    created_at: int
    updated_at: int


# ---- revocations ------------------------------------------------------------------------


REVOCATION_TARGETS = ("jti", "identity", "room", "kid", "issued_before")


class RevocationCreate(Strict):
    """Exactly one target: jti, identity (optionally with room), room, kid or issued_before."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": one_target(REVOCATION_TARGETS, together={"identity": "room"})}
    )

    jti: str | None = Field(None, min_length=1, max_length=256)
    identity: str | None = Field(None, min_length=1, max_length=256)
    room: str | None = Field(None, min_length=1, max_length=256)
    kid: str | None = Field(None, min_length=1, max_length=256)
    issued_before: Annotated[int, Field(ge=0, le=2**40), WHOLE] | None = None
    reason: str = Field("", max_length=200)


class RevocationPublic(BaseModel):
    """A revocation rule."""

    id: str
    kind: str
    created_at: int
    expires_at: int
    jti: str | None = None
    identity: str | None = None
    room: str | None = None
    kid: str | None = None
    issued_before: int | None = None
    lifted_at: int | None = None
    reason: str = ""


# ---- audit and project ------------------------------------------------------------------


class AuditPublic(BaseModel):
    """One issued token."""

    jti: str
    kid: str
    dialect: str
    endpoint: str
    issued_at: int
    expires_at: int
    room: str | None = None
    identity: str | None = None
    role: str | None = None
    caller: str | None = None


class AuditPage(BaseModel):
    """A page of audit rows, newest first."""

    data: list[AuditPublic]
    next_cursor: str | None = None


class ProjectSettingsUpdate(Strict):
    """Project policy changes (fields not given are kept)."""

    default_ttl_s: Annotated[int, Field(ge=1, le=30 * 24 * 3600), WHOLE] | None = None
    max_ttl_s: Annotated[int, Field(ge=1, le=30 * 24 * 3600), WHOLE] | None = None
    auto_create_rooms: bool | None = None
    sandbox_enabled: bool | None = None
    rate_limit_per_min: Annotated[int, Field(ge=1, le=1_000_000), WHOLE] | None = None
    videosdk_roleless_api: bool | None = Field(
        None,
        description="Let a VideoSDK token without `roles` call the API with the crawler role's "
        "rights (rooms:read, rooms:write, tokens:issue, tokens:verify); off by default.",
    )
    admit_policy: Literal["direct", "moderators", "admins"] | None = Field(
        None,
        description="Who may admit from a lobby: holders of `join: direct` (default), "
        "moderators, or admins; a room's metadata `admission` object may override it.",
    )
    platform_token: Literal["native", "livekit", "videosdk", "huddle01"] | None = Field(
        None,
        description="On admission, hand out a participant token in this format "
        "(`participant_token`); unset: none. A room's metadata `admission` may override it.",
    )
    knock_timeout_s: Annotated[int, Field(ge=5, le=24 * 3600), WHOLE] | None = Field(
        None, description="How long a knock waits before it expires."
    )
    locked_lobby: bool | None = Field(
        None,
        description="A locked room holds joiners in its lobby (default); false: it refuses "
        "them with 403 `room_locked`.",
    )
    eject_at_token_exp: bool | None = Field(
        None,
        description="End a session when the token it joined (or last refreshed) with expires, "
        "after a `token_expiring` event a minute ahead (off by default: a token is checked once, "
        "when its holder joins). A room's metadata `admission` may override it.",
    )


class ProjectCreate(Strict):
    """A new project (only callers of an admin project may create one)."""

    name: str = Field(..., min_length=1, max_length=100)


class ProjectCreated(BaseModel):
    """A new project and its first API key; ``api_secret`` is shown here once."""

    id: str
    name: str
    api_key: str
    api_secret: str


class ProjectPublic(BaseModel):
    """The caller's project."""

    id: str
    name: str
    created_at: int
    settings: dict[str, Any]
