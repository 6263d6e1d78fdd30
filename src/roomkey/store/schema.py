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

# One row (id 1): incremented by every write to the tables above except the audit log, so
# that nodes reload their in-memory state only when it changed.
state_revision = Table(
    "state_revision",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("revision", BigInteger, nullable=False),
)

__all__ = [
    "api_keys",
    "audit",
    "bans",
    "metadata",
    "projects",
    "revocations",
    "roles",
    "rooms",
    "state_revision",
]
