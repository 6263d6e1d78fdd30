"""Initial schema: projects, api_keys, rooms, roles, revocations, audit.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Frozen copy of the tables as first released; later changes go in new revisions, never here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _project_fk(table: str) -> sa.Column[str]:
    return sa.Column(
        "project_id",
        sa.Text(),
        sa.ForeignKey("projects.id", name=f"fk_{table}_project_id_projects", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    """Create every table and index."""
    op.create_table(
        "projects",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
    )
    _create_api_keys()
    _create_rooms()
    _create_roles()
    _create_revocations()
    _create_audit()


def _create_api_keys() -> None:
    op.create_table(
        "api_keys",
        sa.Column("kid", sa.Text(), nullable=False),
        _project_fk("api_keys"),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("disabled_at", sa.BigInteger(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("rotated_from", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("kid", name="pk_api_keys"),
    )
    op.create_index("ix_api_keys_project_id", "api_keys", ["project_id"])


def _create_rooms() -> None:
    op.create_table(
        "rooms",
        sa.Column("id", sa.Text(), nullable=False),
        _project_fk("rooms"),
        sa.Column("custom_id", sa.Text(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("max_participants", sa.Integer(), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("deactivated_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rooms"),
        sa.UniqueConstraint("project_id", "custom_id", name="uq_rooms_project_custom_id"),
    )
    op.create_index("ix_rooms_project_created", "rooms", ["project_id", "created_at", "id"])


def _create_roles() -> None:
    op.create_table(
        "roles",
        _project_fk("roles"),
        sa.Column("name", sa.String(20), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "name", name="pk_roles"),
    )


def _create_revocations() -> None:
    op.create_table(
        "revocations",
        sa.Column("id", sa.Text(), nullable=False),
        _project_fk("revocations"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("jti", sa.Text(), nullable=True),
        sa.Column("identity", sa.Text(), nullable=True),
        sa.Column("room", sa.Text(), nullable=True),
        sa.Column("kid", sa.Text(), nullable=True),
        sa.Column("issued_before", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("lifted_at", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_revocations"),
    )
    op.create_index("ix_revocations_project_id", "revocations", ["project_id"])
    op.create_index("ix_revocations_expires_at", "revocations", ["expires_at"])


def _create_audit() -> None:
    op.create_table(
        "audit",
        sa.Column("id", _BIGINT_ID, nullable=False, autoincrement=True),
        _project_fk("audit"),
        sa.Column("jti", sa.Text(), nullable=False),
        sa.Column("kid", sa.Text(), nullable=False),
        sa.Column("room", sa.Text(), nullable=True),
        sa.Column("identity", sa.Text(), nullable=True),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("dialect", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("caller", sa.Text(), nullable=True),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
        sa.UniqueConstraint("jti", name="uq_audit_jti"),
    )
    op.create_index("ix_audit_project_id", "audit", ["project_id", "id"])
    op.create_index("ix_audit_project_room", "audit", ["project_id", "room"])
    op.create_index("ix_audit_project_identity", "audit", ["project_id", "identity"])


def downgrade() -> None:
    """Drop every table (loses all data)."""
    for table in ("audit", "revocations", "roles", "rooms", "api_keys", "projects"):
        op.drop_table(table)
