"""The tables, as SQLAlchemy Core metadata: one schema for SQLite and PostgreSQL.

Times are ``BigInteger`` epoch seconds; JSON documents use the portable ``JSON`` type. The
migrations in ``migrations/versions`` must produce exactly these tables; a test compares them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Computed,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

# Stable constraint names, so migrations can refer to them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _project_fk() -> Column[str]:
    return Column("project_id", Text, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)


projects = Table(
    "projects",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("settings", JSON, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("kid", Text, primary_key=True),
    _project_fk(),
    Column("alg", String(16), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("secret_ciphertext", LargeBinary, nullable=False),
    Column("public_jwk", JSON, nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("disabled_at", BigInteger, nullable=True),
    Column("description", Text, nullable=False),
    Column("rotated_from", Text, nullable=True),
    Index("ix_api_keys_project_id", "project_id"),
)

rooms = Table(
    "rooms",
    metadata,
    Column("id", Text, primary_key=True),
    _project_fk(),
    Column("custom_id", Text, nullable=True),
    Column("metadata", JSON, nullable=False),
    Column("max_participants", Integer, nullable=True),
    Column("locked", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("deactivated_at", BigInteger, nullable=True),
    # NULLs are distinct on both databases, so rooms without a custom id never collide
    UniqueConstraint("project_id", "custom_id", name="uq_rooms_project_custom_id"),
    Index("ix_rooms_project_created", "project_id", "created_at", "id"),
)

roles = Table(
    "roles",
    metadata,
    Column("project_id", Text, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(20), primary_key=True),
    Column("permissions", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# A jti rule's other fields as one text, as roomkey.revocation.pack_jti builds it: computed by
# the database on every write (stored on PostgreSQL, computed when read on SQLite), so that a
# node's start reads it instead of building 1,000,000 of them (0.4 s of the database's time)
PACKED_RULE = (
    "CAST(created_at AS TEXT) || ',' || CAST(expires_at AS TEXT) || ','"
    " || CAST(length(id) AS TEXT) || ',' || id || ',' || reason"
)
revocations = Table(
    "revocations",
    metadata,
    Column("id", Text, primary_key=True),
    _project_fk(),
    Column("kind", String(16), nullable=False),
    Column("jti", Text, nullable=True),
    Column("identity", Text, nullable=True),
    Column("room", Text, nullable=True),
    Column("kid", Text, nullable=True),
    Column("issued_before", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("lifted_at", BigInteger, nullable=True),
    Column("reason", Text, nullable=False),
    Column("packed", Text, Computed(PACKED_RULE, persisted=True)),
    Index("ix_revocations_project_id", "project_id"),
    Index("ix_revocations_expires_at", "expires_at"),
)

# Bans of an identity from a room (by the room's id). A lifted ban stays as history; the partial
# unique index allows one live ban per project, room and identity (both databases have them).
LIVE_BAN = "lifted_at IS NULL"
bans = Table(
    "bans",
    metadata,
    Column("id", Text, primary_key=True),
    _project_fk(),
    Column("room", Text, nullable=False),
    Column("identity", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("lifted_at", BigInteger, nullable=True),
    Index(
        "uq_bans_live",
        "project_id",
        "room",
        "identity",
        unique=True,
        sqlite_where=text(LIVE_BAN),
        postgresql_where=text(LIVE_BAN),
    ),
)

audit = Table(
    "audit",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    _project_fk(),
    Column("jti", Text, nullable=False, unique=True),
    Column("kid", Text, nullable=False),
    Column("room", Text, nullable=True),
    Column("identity", Text, nullable=True),
    Column("role", Text, nullable=True),
    Column("dialect", Text, nullable=False),
    Column("endpoint", Text, nullable=False),
    Column("caller", Text, nullable=True),
    Column("issued_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_audit_project_id", "project_id", "id"),
    Index("ix_audit_project_room", "project_id", "room"),
    Index("ix_audit_project_identity", "project_id", "identity"),
)

# Webhooks: endpoints, the transactional outbox of events, and one delivery row per event and
# endpoint. Deliveries of an endpoint go out in id order; claims carry a lease (see _webhooks).
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Text, primary_key=True),
    _project_fk(),
    Column("url", Text, nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("format", String(16), nullable=False),
    Column("allow_private", Boolean, nullable=False),
    Column("secret_ciphertext", LargeBinary, nullable=False),
    Column("previous_secret_ciphertext", LargeBinary, nullable=True),
    Column("previous_expires_at", BigInteger, nullable=True),
    Column("livekit_key", Text, nullable=True),
    Column("description", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_webhook_endpoints_project_id", "project_id"),
)

_SERIAL = BigInteger().with_variant(Integer, "sqlite")

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("seq", _SERIAL, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    _project_fk(),
    Column("type", Text, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_webhook_events_created_at", "created_at"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", _SERIAL, primary_key=True, autoincrement=True),
    Column(
        "event_seq",
        BigInteger,
        ForeignKey("webhook_events.seq", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "endpoint_id",
        Text,
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    _project_fk(),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Double, nullable=False),
    Column("lease_until", Double, nullable=True),
    Column("claimed_by", Text, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_attempt_at", Double, nullable=True),
    Column("delivered_at", Double, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_webhook_deliveries_endpoint", "endpoint_id", "status", "id"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_project", "project_id", "id"),
    Index("ix_webhook_deliveries_event_seq", "event_seq"),
)

# One row (id 1): incremented by every write of the state nodes keep in memory (projects,
# keys, rooms, roles, revocations, bans), in the write's transaction. The row lock makes the
# numbers gap-free and in commit order (a writer waits for the previous one to commit).
state_revision = Table(
    "state_revision",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("revision", BigInteger, nullable=False),
)

# The change feed: one row per revision, naming what that write changed, so that a node
# applies the change alone (reading the one entity) instead of reloading everything. Kept for
# a while (housekeeping purges old rows); a node further behind reloads in full.
changes = Table(
    "changes",
    metadata,
    Column("rev", BigInteger, primary_key=True, autoincrement=False),
    Column("project_id", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("ref", Text, nullable=False),
    Column("created_at", Double, nullable=False),
)

__all__ = [
    "api_keys",
    "audit",
    "bans",
    "changes",
    "metadata",
    "projects",
    "revocations",
    "roles",
    "rooms",
    "state_revision",
    "webhook_deliveries",
    "webhook_endpoints",
    "webhook_events",
]
