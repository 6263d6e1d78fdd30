"""Rows as frozen dataclasses: what the store takes in and hands back.

Times are integer epoch seconds throughout. Callers build complete records (ids, timestamps) and
pass them in, so the store never reads a clock or invents an id, except the audit row's serial id
and the change feed's revision and commit time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, TypeVar

KeyAlg = Literal["HS256", "EdDSA", "ES256", "RS256"]
KeyPurpose = Literal["api", "signing"]
KeyStatus = Literal["active", "disabled"]
RevocationKind = Literal["jti", "identity", "room", "key", "issued_before"]
WebhookFormat = Literal["standard", "livekit"]
DeliveryStatus = Literal["pending", "delivered", "dead"]
# what one state revision changed (see ChangeRecord)
ChangeKind = Literal["project", "key", "room", "role", "revocation", "ban"]

JSONObject = dict[str, Any]
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    """Per-project policy, stored as one JSON document (unknown keys are ignored on read)."""

    # TTL given to a token whose request names none
    default_ttl_s: int = 900
    # the longest TTL a request may ask for
    max_ttl_s: int = 86400
    # whether a token for an unknown room creates it instead of failing
    auto_create_rooms: bool = True
    # whether the unauthenticated sandbox token route is served
    sandbox_enabled: bool = False
    # token issuances per minute per caller; None means no limit
    rate_limit_per_min: int | None = None
    # whether this project's callers may create other projects (the bootstrap project)
    is_admin: bool = False
    # whether a VideoSDK token without `roles` may call the API (with the crawler role's rights)
    videosdk_roleless_api: bool = False
    # who may admit from a room's lobby: direct (holders of join: direct), moderators, admins
    admit_policy: str = "direct"
    # the format of the platform token handed out on admission (e.g. "livekit"); None: none
    platform_token: str | None = None
    # how long a knock waits in the lobby before it expires
    knock_timeout_s: int = 300
    # a locked room holds joiners in its lobby; when false it refuses them (room_locked)
    locked_lobby: bool = True
    # end a session when the token it joined (or last refreshed) with expires, warning ahead
    eject_at_token_exp: bool = False

    def to_json(self) -> JSONObject:
        """The settings as a JSON-safe dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: JSONObject | None) -> ProjectSettings:
        """Settings from stored JSON; missing keys take defaults so old rows stay readable."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    """A tenant: owns keys, rooms, roles, revocations and audit rows."""

    id: str
    name: str
    created_at: int
    settings: ProjectSettings = field(default_factory=ProjectSettings)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An API key (HMAC, ``purpose='api'``; the kid is the API key string) or a signing key."""

    kid: str
    project_id: str
    alg: KeyAlg
    purpose: KeyPurpose
    # HMAC secret or private key PEM, sealed by the caller with SecretBox (AD = kid)
    secret_ciphertext: bytes = field(repr=False)
    created_at: int
    public_jwk: JSONObject | None = None
    status: KeyStatus = "active"
    # end of a rotation overlap; None means no expiry
    expires_at: int | None = None
    disabled_at: int | None = None
    description: str = ""
    rotated_from: str | None = None


@dataclass(frozen=True, slots=True)
class RoomRecord:
    """A room. ``id`` looks like ``abcd-efgh-ijkl``; ``custom_id`` is unique within a project."""

    id: str
    project_id: str
    created_at: int
    custom_id: str | None = None
    metadata: JSONObject = field(default_factory=dict)
    max_participants: int | None = None
    locked: bool = False
    active: bool = True
    deactivated_at: int | None = None


@dataclass(frozen=True, slots=True)
class RoleRecord:
    """A project's custom role: a name (at most 20 characters) and its permission overrides."""

    project_id: str
    name: str
    permissions: JSONObject
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class RevocationRecord:
    """A revocation; ``kind`` says which of jti/identity/room/kid/issued_before it matches on."""

    id: str
    project_id: str
    kind: RevocationKind
    created_at: int
    # when no token it covers can still be valid; the entry may be purged after this
    expires_at: int
    jti: str | None = None
    identity: str | None = None
    room: str | None = None
    kid: str | None = None
    issued_before: int | None = None
    lifted_at: int | None = None
    reason: str = ""


@dataclass(slots=True)
class ActiveRevocations:
    """A project's active revocations in bulk, as a node loads them at start
    (``roomkey.revocation.InMemoryRevocations.load``)."""

    # the jti rules as two columns, in no order: ``jti_rules[i]``, packed as
    # "revoked_at,expires_at,len(id),id,reason", revokes ``jtis[i]`` (a jti with two rules
    # appears twice: the latest wins)
    jtis: list[str] = field(default_factory=list)
    jti_rules: list[str] = field(default_factory=list)
    # the other kinds: (kind, value as text, created_at, room, expires_at, reason, id)
    others: list[Sequence[Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BanRecord:
    """An identity banned from a room: refused admission and new tokens until lifted.

    ``room`` is the room's id (never its custom id), so both names of a room share one ban.
    At most one ban per project, room and identity is live (``lifted_at`` is None) at a time.
    """

    id: str
    project_id: str
    room: str
    identity: str
    created_at: int
    reason: str = ""
    # who banned: the caller's label (an API key, or the moderating participant's identity)
    created_by: str = ""
    lifted_at: int | None = None


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One state revision of the change feed: which project and which thing it changed.

    ``ref`` names the thing within its project: a key id (the project's keys are read again),
    a room id, a role name, a revocation id, or a ban's room and identity joined by
    :data:`BAN_REF_SEPARATOR`; the project id for ``project``. ``created_at`` is the
    committing node's clock, in (fractional) epoch seconds.
    """

    rev: int
    project_id: str
    kind: ChangeKind
    ref: str
    created_at: float


BAN_REF_SEPARATOR = "\x1f"  # the unit separator: never in a room id or an identity


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One issued token. ``id`` is assigned by the database (``None`` before insertion)."""

    project_id: str
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
    id: int | None = None


@dataclass(frozen=True, slots=True)
class WebhookEndpointRecord:
    """A project's webhook receiver: where events of the listed types are posted, and how.

    ``event_types`` is the resolved list of types the endpoint receives (the service expands
    wildcards before storing), so fan-out is a membership test. Secrets are sealed by the
    caller with SecretBox (AD ``webhook:<id>``); during a rotation's overlap the previous secret
    still signs, until ``previous_expires_at``.
    """

    id: str
    project_id: str
    url: str
    event_types: list[str]
    secret_ciphertext: bytes = field(repr=False)
    created_at: int
    updated_at: int
    enabled: bool = True
    format: WebhookFormat = "standard"
    # whether the URL may resolve to a private, loopback or link-local address
    allow_private: bool = False
    previous_secret_ciphertext: bytes | None = field(default=None, repr=False)
    previous_expires_at: int | None = None
    # LiveKit format: the project's API key whose secret signs the Authorization JWT
    livekit_key: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """An event to deliver, written in the transaction of the change it reports.

    ``seq`` is assigned by the database; ``id`` is the ``webhook-id`` receivers deduplicate on.
    """

    id: str
    project_id: str
    type: str
    payload: JSONObject
    created_at: int
    seq: int | None = None


# What a write adds to the outbox, built from the record as written; called only when the write
# changed something (an idempotent repeat reports nothing), inside the write's transaction.
EventsFor = Callable[[_R], Sequence[OutboxEvent]]


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One event's delivery to one endpoint: the delivery log's row.

    An endpoint's deliveries go out in ``id`` order, one at a time: the next waits until the
    one before is ``delivered`` or ``dead``. A claim (``claimed_by``, ``lease_until``) marks
    the node attempting it; a lease that ran out leaves it to any node.
    """

    id: int
    event_seq: int
    event_id: str
    event_type: str
    endpoint_id: str
    project_id: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: float
    created_at: int
    lease_until: float | None = None
    claimed_by: str | None = None
    last_error: str | None = None
    last_status: int | None = None
    last_attempt_at: float | None = None
    delivered_at: float | None = None


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery claimed by this node: what to send, where, and the claim that fences it."""

    delivery: DeliveryRecord
    event: OutboxEvent
    endpoint: WebhookEndpointRecord
    claim: str


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """How an attempt at a claimed delivery ended: delivered, else retried at ``retry_at``,
    else (no ``retry_at``) dead."""

    claimed: ClaimedDelivery
    delivered: bool
    status_code: int | None = None
    error: str | None = None
    retry_at: float | None = None


__all__ = [
    "BAN_REF_SEPARATOR",
    "ActiveRevocations",
    "AuditRecord",
    "BanRecord",
    "ChangeKind",
    "ChangeRecord",
    "ClaimedDelivery",
    "DeliveryOutcome",
    "DeliveryRecord",
    "DeliveryStatus",
    "EventsFor",
    "JSONObject",
    "KeyAlg",
    "KeyPurpose",
    "KeyRecord",
    "KeyStatus",
    "OutboxEvent",
    "ProjectRecord",
    "ProjectSettings",
    "RevocationKind",
    "RevocationRecord",
    "RoleRecord",
    "RoomRecord",
    "WebhookEndpointRecord",
    "WebhookFormat",
]
